from sandbox.server import SandboxServer
from tests.support import Account, SandboxAdmin


def test_me_answers_with_the_account(
    sandbox: SandboxServer, admin: SandboxAdmin, account: Account
) -> None:
    response = admin.public(account, "GET", "/me")
    assert response.status_code == 200
    assert response.json()["id"] == account.customer_id
