"""the run worker's host and pid on each execution, and the alert sent for it

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01

- worker_host, worker_pid: the process that runs the execution (the run worker: the CLI process
  for runs it executes in-process, Dagster's run process otherwise), recorded when the execution
  opens. With no daemon to notice a killed worker, the next run of the job closes an execution
  left RUNNING only when its worker is on this host and no longer alive; never one whose worker
  lives, nor one on another host (run monitoring, in the daemon, closes those).
- alerted_at: when the alert for the execution's end was sent, so that the run-outcome sensor
  and the launcher, which both see the end, send it once (an UPDATE ... WHERE alerted_at IS NULL
  is the claim).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
# The integrator re-chains this onto 0008 at merge.
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_interest_batch_execution_worker_pid_positive"


def upgrade() -> None:
    op.add_column("interest_batch_execution", sa.Column("worker_host", sa.Text(), nullable=True))
    op.add_column("interest_batch_execution", sa.Column("worker_pid", sa.Integer(), nullable=True))
    op.add_column(
        "interest_batch_execution", sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True)
    )
    # op.f: the name as written (the metadata's naming convention would prefix it again).
    op.create_check_constraint(op.f(CHECK), "interest_batch_execution", "worker_pid > 0")


def downgrade() -> None:
    op.drop_constraint(op.f(CHECK), "interest_batch_execution", type_="check")
    op.drop_column("interest_batch_execution", "alerted_at")
    op.drop_column("interest_batch_execution", "worker_pid")
    op.drop_column("interest_batch_execution", "worker_host")
