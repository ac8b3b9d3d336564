"""End-to-end fixtures, registered for tests/e2e by importing them from tests/support:
the private Dovecot, the private keyring, the sandbox sites (tests/support/site.py), a browser
and page for tests that drive pages by hand (tests/support/browsers.py), and the leak check
every end-to-end test ends with (tests/support/leakcheck_plugin.py: fixtures and its summary
hook). Imported here rather than listed in `pytest_plugins`, which pytest allows only in a
top-level conftest, so that they stay the end-to-end tests' own.
"""

from tests.support.browsers import browser, page  # noqa: F401
from tests.support.dovecot import dovecot  # noqa: F401
from tests.support.keyring_env import secret_service  # noqa: F401
from tests.support.leakcheck_plugin import (  # noqa: F401
    leak_check,
    leak_module,
    leak_secrets,
    leak_session,
    leak_sites,
    pytest_terminal_summary,
)
from tests.support.site import htx_site, site_factory, team_factory  # noqa: F401
