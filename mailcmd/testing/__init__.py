"""Testing an app: a client that sends real mail through the real path, and pytest fixtures.

`MailTestClient` runs the app's server in-process on loopback and hands back its
replies as messages; the pytest plugin (registered when mailcmd is installed) gives
app authors the fixtures to use it.
"""

from mailcmd.testing.client import (
    DOMAIN,
    TEST_DATABASE_ENV,
    Exchange,
    MailTestClient,
    plain_text,
    scratch_database_url,
)

__all__ = [
    "DOMAIN",
    "TEST_DATABASE_ENV",
    "Exchange",
    "MailTestClient",
    "plain_text",
    "scratch_database_url",
]
