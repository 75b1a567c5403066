"""Roles over real HTTP: none, unknown, revoked, expired or wrongly signed is 401; user reads; admin writes."""

import time

import psycopg
import pytest
import requests
from gql.transport.exceptions import TransportQueryError

from interest_pipeline.api.auth import AuthenticationFailed, sign_jwt, verify_jwt
from interest_pipeline_tests.api.conftest import JWT_SECRET, Stack
from interest_pipeline_tests.support.servers import interest_pipeline_cli

pytestmark = pytest.mark.xdist_group("api-e2e")

CONFIGS = "{ getInterestBatchConfigs { id jobType name batchSize updatedBy } }"
UPDATE = """
mutation Update($id: ID!) {
  updateInterestBatchConfig(input: {id: $id, batchSize: 777}) { id batchSize updatedBy }
}
"""


def default_id(conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT id FROM interest_batch_config WHERE job_type = 'interest_posting' AND name = 'default'"
    ).fetchone()
    assert row is not None
    return str(row[0])


def status_code(stack: Stack, token: str | None) -> tuple[int, str]:
    """The HTTP status (gql does not expose it for a GraphQL-shaped body) and, through gql, the error code."""
    with pytest.raises(TransportQueryError) as raised:
        stack.execute(token, CONFIGS)
    assert raised.value.errors is not None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(stack.api_url, json={"query": CONFIGS}, headers=headers, timeout=10)
    assert "data" not in response.json()
    return response.status_code, raised.value.errors[0]["extensions"]["code"]


class TestRejected:
    def test_no_unknown_revoked_expired_or_wrongly_signed_credentials_are_401(self, api: Stack) -> None:
        codes = {
            "none": status_code(api, None),
            "unknown": status_code(api, "ipk_not-a-token-anyone-was-given"),
            "revoked": status_code(api, api.tokens["revoked"]),
            "expired jwt": status_code(api, api.jwt("admin", expires_in=-10)),
            "wrongly signed jwt": status_code(api, api.jwt("admin", secret="some-other-secret")),
            "jwt without hasura role": status_code(
                api, sign_jwt({"sub": "x", "exp": time.time() + 60}, JWT_SECRET)
            ),
        }
        assert codes == dict.fromkeys(codes, (401, "UNAUTHENTICATED"))

    def test_401_body_is_a_graphql_error_with_code_and_no_traceback(self, api: Stack) -> None:
        response = requests.post(api.api_url, json={"query": CONFIGS}, timeout=10)
        assert response.status_code == 401
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "Traceback" not in response.text


class TestRoles:
    def test_user_reads_but_every_mutation_is_forbidden_and_changes_nothing(self, api: Stack) -> None:
        with api.connect() as conn:
            config_id = default_id(conn)
        configs = api.execute(api.tokens["user"], CONFIGS)["getInterestBatchConfigs"]
        assert [(c["jobType"], c["name"]) for c in configs] == [
            ("daily_interest_accrual", "default"),
            ("interest_posting", "default"),
        ]
        mutations = [
            (UPDATE, {"id": config_id}),
            (
                """mutation { createInterestBatchConfig(input: {jobType: "interest_posting", name: "x",
                   cronExpression: "0 2 * * *"}) { id } }""",
                None,
            ),
            ("""mutation { triggerInterestBatchJob(input: {jobType: "interest_posting"}) { id } }""", None),
            ("""mutation { cancelInterestBatchExecution(id: "any") { id } }""", None),
        ]
        for token in (api.tokens["user"], api.jwt("user")):
            for query, variables in mutations:
                with pytest.raises(TransportQueryError) as raised:
                    api.execute(token, query, variables)
                assert raised.value.errors is not None
                assert raised.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
        with api.connect() as conn:
            rows = conn.execute(
                "SELECT name, batch_size, updated_by FROM interest_batch_config ORDER BY id"
            ).fetchall()
            runs = conn.execute("SELECT count(*) FROM interest_batch_execution").fetchone()
        assert rows == [("default", 250_000, None), ("default", 250_000, None)]
        assert runs == (0,)

    def test_admin_token_and_admin_jwt_mutate_and_are_recorded_by_name(self, api: Stack) -> None:
        with api.connect() as conn:
            config_id = default_id(conn)
        by_token = api.execute(api.tokens["admin"], UPDATE, {"id": config_id})["updateInterestBatchConfig"]
        assert by_token == {"id": config_id, "batchSize": 777, "updatedBy": "ops-admin"}
        by_jwt = api.execute(api.jwt("admin", subject="alice"), UPDATE, {"id": config_id})
        assert by_jwt["updateInterestBatchConfig"]["updatedBy"] == "jwt:alice"
        # A user-role JWT reads.
        assert len(api.execute(api.jwt("user"), CONFIGS)["getInterestBatchConfigs"]) == 2


class TestTokenCli:
    def test_list_shows_names_roles_and_use_never_the_token(self, api: Stack) -> None:
        api.execute(api.tokens["user"], CONFIGS)
        done = interest_pipeline_cli(api.env, "api", "token", "list")
        assert done.returncode == 0, done.stderr
        lines = {line.split("\t")[0]: line.split("\t") for line in done.stdout.splitlines()[1:]}
        assert set(lines) == {"ops-admin", "ops-viewer", "ops-leaver"}
        assert lines["ops-viewer"][1] == "user"
        assert lines["ops-viewer"][3] != "-"  # last used: just now
        assert lines["ops-leaver"][4] != "-"  # revoked
        assert lines["ops-admin"][4] == "-"
        for token in api.tokens.values():
            assert token not in done.stdout
        with api.connect() as conn:
            stored = {r[0] for r in conn.execute("SELECT token_sha256 FROM api_tokens").fetchall()}
        assert not stored & set(api.tokens.values())

    def test_duplicate_name_and_unknown_revoke_fail_clearly(self, api: Stack) -> None:
        duplicate = interest_pipeline_cli(
            api.env, "api", "token", "create", "--name", "ops-admin", "--role", "user"
        )
        assert duplicate.returncode != 0
        assert "exists already" in duplicate.stderr
        unknown = interest_pipeline_cli(api.env, "api", "token", "revoke", "nobody")
        assert unknown.returncode != 0
        assert "no live token named 'nobody'" in unknown.stderr


class TestJwt:
    def payload(self, **changes: object) -> dict[str, object]:
        base: dict[str, object] = {
            "sub": "bob",
            "exp": 2_000_000_000,
            "https://hasura.io/jwt/claims": {"x-hasura-default-role": "user"},
        }
        return {**base, **changes}

    def test_hasura_role_and_subject_are_read(self) -> None:
        principal = verify_jwt(sign_jwt(self.payload(), "s"), "s", now=1_900_000_000)
        assert (principal.name, principal.role) == ("jwt:bob", "user")

    @pytest.mark.parametrize(
        ("payload", "secret", "now", "message"),
        [
            ({}, "other", 1_900_000_000, "signature"),
            ({}, "s", 2_000_000_000, "expired"),
            (
                {"https://hasura.io/jwt/claims": {"x-hasura-default-role": "root"}},
                "s",
                1_900_000_000,
                "no https",
            ),
            ({"sub": ""}, "s", 1_900_000_000, "subject"),
        ],
    )
    def test_refused(self, payload: dict[str, object], secret: str, now: int, message: str) -> None:
        with pytest.raises(AuthenticationFailed, match=message):
            verify_jwt(sign_jwt(self.payload(**payload), "s"), secret, now=now)

    def test_alg_none_is_refused(self) -> None:
        token = sign_jwt(self.payload(), "s")
        header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
        with pytest.raises(AuthenticationFailed, match="HS256"):
            verify_jwt(".".join([header, *token.split(".")[1:]]), "s", now=1_900_000_000)


class TestHttp:
    def test_get_serves_graphiql_and_a_body_that_is_not_json_is_400(self, stack: Stack) -> None:
        page = requests.get(stack.api_url, timeout=10)
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        bad = requests.post(
            stack.api_url,
            data="{not json",
            headers={"Authorization": f"Bearer {stack.tokens['user']}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
