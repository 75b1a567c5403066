"""The GraphQL examples of the reference design (interest-batch-module.md), copied verbatim.

Tests run them as written; only the placeholders ("execution-id", "config-id", "account-id-N")
are replaced by real ids with `substitute`.
"""

TRIGGER_ACCRUAL = """
mutation {
  triggerInterestBatchJob(
    input: {
      jobType: "daily_interest_accrual",
      parameters: {
        include_dormant_accounts: false,
        process_failed_accounts_first: true
      }
    }
  ) {
    id
    jobType
    startedAt
    status
  }
}
"""

TRIGGER_POSTING_FOR_ACCOUNTS = """
mutation {
  triggerInterestBatchJob(
    input: {
      jobType: "interest_posting",
      accountIds: ["account-id-1", "account-id-2"]
    }
  ) {
    id
    jobType
    startedAt
    status
  }
}
"""

SUMMARY = """
query {
  getInterestBatchSummary {
    totalAccountsProcessedToday
    totalInterestPostedToday
    failedAccountsToday
    avgProcessingTimeMs
    currentRunningJobs
    lastCompletedRun {
      id
      jobType
      completedAt
      status
    }
  }
}
"""

ACCOUNT_RESULTS = """
query {
  getInterestBatchAccountResults(
    input: {
      batchExecutionId: "execution-id",
      status: "FAILED",
      limit: 10,
      offset: 0
    }
  ) {
    data {
      accountId
      accountNumber
      interestCalculated
      status
      errorMessage
      processingTimeMs
    }
    totalCount
  }
}
"""

UPDATE_CONFIG = """
mutation {
  updateInterestBatchConfig(
    input: {
      id: "config-id",
      batchSize: 500,
      parallelThreads: 8,
      parameters: {
        include_dormant_accounts: true,
        logging_level: "DEBUG"
      }
    }
  ) {
    id
    jobType
    batchSize
    parallelThreads
    enabled
    updatedAt
  }
}
"""


def substitute(example: str, **values: str) -> str:
    """The example with its placeholders replaced: execution_id=..., config_id=..., account_id_1=..."""
    for key, value in values.items():
        placeholder = key.replace("_", "-")
        assert placeholder in example, placeholder
        example = example.replace(f'"{placeholder}"', f'"{value}"')
    return example
