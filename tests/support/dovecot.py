"""A private Dovecot for tests: real IMAP (implicit TLS and STARTTLS) and LMTP on loopback.

Runs ``dovecot -F -c CONF`` from a temporary directory with free loopback ports, no system
daemon involved. Mail is delivered over LMTP exactly as a mail server would hand it over, so the
INTERNALDATE, UIDs and IDLE notifications the client sees are Dovecot's own.

Import the ``dovecot`` fixture into a test module to use it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from sandbox.certs import make_test_ca

HOST = "127.0.0.1"
REQUIRE_ENV = "HTX_KEYS_REQUIRE_SERVICES"

_CONFIG = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = htx-keys-test-{instance}
listen = {host}
protocols = imap lmtp
log_path = {d}/dovecot.log
auth_verbose = yes
# Process titles name the user and what the session does ("dovecot-<instance>/imap [user
# 127.0.0.1 IDLE]"): how a test finds the process serving a mailbox to cut its connection.
verbose_proctitle = yes
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
first_valid_uid = 0
mail_location = maildir:{d}/mail/%n/Maildir
{passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%n{userdb_extra}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
}}
service anvil {{
  chroot ={anvil_extra}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.test
}}
"""


_PASSWORDS = """\
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users/%n
}}"""

# Dovecot's OAuth2 password database (doc.dovecot.org, configuration_manual/authentication/
# oauth2): each token is checked at the introspection endpoint (RFC 7662, POST token=...),
# whose answer must be active and name the user who logs in. No auth cache: a revoked
# token is refused at once.
_OAUTH2 = """\
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/dovecot-oauth2.conf.ext
}}"""
_OAUTH2_EXT = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""


def find_dovecot() -> str | None:
    # /usr/sbin is not on an ordinary user's PATH, but that is where Debian puts the binary.
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """One Dovecot instance; users can be added before or after start.

    With `introspection_url`, users log in with OAuth2 access tokens only (XOAUTH2,
    OAUTHBEARER), checked at that endpoint; any name that endpoint vouches for is a user.
    """

    def __init__(self, workdir: Path | None = None, *, introspection_url: str = "") -> None:
        self.introspection_url = introspection_url
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="htx-dovecot-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        # Dovecot's unprivileged processes (login, mail) must be able to enter this directory.
        self.dir.chmod(0o755)
        # One passwd-file per user: Dovecot re-reads a changed file at most once a second, but
        # a file it has never opened is read at once, so users added while running work at once.
        self._users = self.dir / "users"
        self._users.mkdir(exist_ok=True)
        self._proc: subprocess.Popen[bytes] | None = None
        self.imap_port = self.imaps_port = self.lmtp_port = 0
        self.tls = make_test_ca(self.dir / "tls")
        if os.geteuid() == 0:
            # imap-login refuses to run as root; mail is owned by an ordinary account.
            self._internal, self._login = "dovecot", "dovenull"
            self._uid, self._gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            self._internal = self._login = me
            self._uid, self._gid = os.getuid(), os.getgid()
        mail = self.dir / "mail"
        mail.mkdir(exist_ok=True)
        os.chown(mail, self._uid, self._gid)
        # The auth process reads the user files as the internal user.
        internal = pwd.getpwnam(self._internal)
        self._owner = (internal.pw_uid, internal.pw_gid)
        os.chown(self._users, *self._owner)
        self._users.chmod(0o700)

    host = HOST

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    @property
    def log_path(self) -> Path:
        return self.dir / "dovecot.log"

    @property
    def config_path(self) -> Path:
        return self.dir / "dovecot.conf"

    def add_user(self, name: str, password: str) -> None:
        if any(c in name + password for c in ":\n\r") or not name or not password:
            raise ValueError("user names and passwords must be non-empty, without ':' or newlines")
        if "/" in name or name.startswith("."):
            raise ValueError("user names must not contain '/' or start with '.'")
        path = self._users / name
        tmp = self._users / f".{name}.tmp"
        tmp.write_text(f"{name}:{{PLAIN}}{password}\n", encoding="utf-8")
        os.chown(tmp, *self._owner)
        tmp.chmod(0o600)
        tmp.replace(path)  # atomic: a login never reads a half-written line

    def start(self, timeout: float = 15.0) -> None:
        binary = find_dovecot()
        if binary is None:
            raise RuntimeError(
                "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
            )
        last_error = ""
        for _ in range(3):  # a port picked as free may be taken before Dovecot binds it
            self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
            self._write_config()
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=(self.dir / "dovecot.stderr").open("wb"),
                start_new_session=True,  # so stop() can reach every child if it has to kill
            )
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError as exc:
                last_error = str(exc)
                self._terminate()
        raise RuntimeError(f"Dovecot did not start: {last_error}")

    def stop(self) -> None:
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def deliver(self, rcpt: str, msg_bytes: bytes, mail_from: str = "") -> None:
        """Hand a message to Dovecot over LMTP, as the mail server in front of it would."""
        with smtplib.LMTP(HOST, self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(mail_from, [rcpt], msg_bytes)

    def imap_processes(self, user: str, state: str = "") -> list[int]:
        """The pids of the imap processes serving `user` (whose title shows `state`, such as
        "IDLE", when given): found by their process titles, and only under this Dovecot."""
        if self._proc is None:
            return []
        from tests.support.procs import cmdline, descendants

        found = []
        for pid in descendants(self._proc.pid):
            title = cmdline(pid)
            # "dovecot-<instance>/imap [user 127.0.0.1 IDLE]"; imap-login is the TLS proxy.
            if f"/imap [{user} " in title and state in title:
                found.append(pid)
        return found

    # -- internals -----------------------------------------------------------------------------

    def _write_config(self) -> None:
        if self.introspection_url:
            mechanisms, passdb = "xoauth2 oauthbearer", _OAUTH2.format(d=self.dir)
            # The oauth2 passdb cannot look a user up without a token: LMTP's userdb
            # lookup must not ask it whether the user exists.
            userdb_extra = " allow_all_users=yes"
            # No growing delay for an address after refused logins (the tests refuse
            # expired tokens on purpose): the auth process cannot reach this socket.
            anvil_extra = "\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }"
            ext = self.dir / "dovecot-oauth2.conf.ext"
            ext.write_text(_OAUTH2_EXT.format(url=self.introspection_url), encoding="utf-8")
            os.chown(ext, *self._owner)  # read by the auth process, as the internal user
        else:
            mechanisms, passdb = "plain login", _PASSWORDS.format(d=self.dir)
            userdb_extra = anvil_extra = ""
        text = _CONFIG.format(
            mechanisms=mechanisms,
            passdb=passdb,
            userdb_extra=userdb_extra,
            anvil_extra=anvil_extra,
            d=self.dir,
            instance=uuid.uuid4().hex[:8],
            host=HOST,
            cert=self.tls.cert_file,
            key=self.tls.key_file,
            internal_user=self._internal,
            internal_group=grp.getgrgid(pwd.getpwnam(self._internal).pw_gid).gr_name,
            login_user=self._login,
            uid=self._uid,
            gid=self._gid,
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            lmtp_port=self.lmtp_port,
        )
        self.config_path.write_text(text, encoding="utf-8")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"exited with status {self._proc.returncode}: {self._log_tail()}"
                )
            # An open port is not enough: the greeting means login processes are serving.
            if _greets(self.imap_port, b"* OK") and _greets(self.lmtp_port, b"220"):
                return
            time.sleep(0.02)
        raise RuntimeError(f"no greeting within {timeout:g} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        parts = []
        for path in (self.dir / "dovecot.stderr", self.log_path):
            with contextlib.suppress(OSError):
                parts.append(path.read_text(errors="replace")[-1500:])
        return " | ".join(p.strip() for p in parts if p.strip()) or "(no log output)"

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # the master stops its children and removes sockets
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _greets(port: int, prefix: bytes) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            return sock.recv(256).startswith(prefix)
    except OSError:
        return False


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot for the whole session; each test should add its own user."""
    if find_dovecot() is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(reason)
    with Dovecot() as server:
        yield server
