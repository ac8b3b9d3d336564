"""`provision --all-accounts` for N accounts (default 8) on the replica: `--jobs 4` against one
account at a time (`--jobs 1`, the baseline), in the same run.

One sandbox serves the N accounts (each its own GA seed; their mail lands in one embedded IMAP
mailbox, told apart by address as a team inbox is); the real command runs as a subprocess
with the accounts file and each account's secrets in HTX_*_<NAME> variables. While it runs,
the memory of its whole process tree (the tool, its Playwright drivers, the browser server,
every Chromium process) is sampled every 0.1 s from /proc: the sum of RSS (what the goal is
stated in; it counts pages shared between Chromium's processes once per process) and of PSS
(shared pages split between their processes: closer to what the machine gives up).

Prints wall time, keys a minute, the throughput ratio jobs N / jobs 1, and peak memory.
Goal (issue 14): ratio >= 2 and peak RSS < 600 MB with --jobs 4 and 8 accounts. Linux only.
Run: .venv/bin/python bench/batch_accounts.py [ACCOUNTS] [--jobs N] [--totp-period S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pyotp

from sandbox.accounts import Account
from sandbox.config import SandboxConfig
from sandbox.mailer import MailTarget
from sandbox.mailserver import EmbeddedImap
from sandbox.server import SandboxServer

HTX_KEYS = [sys.executable, "-m", "htx_keys"]


@dataclass
class Sample:
    wall: float
    peak_rss: int  # bytes
    peak_pss: int
    returncode: int
    stderr: str
    at_peak: dict[str, tuple[int, int, int]]  # kind -> (processes, RSS, PSS) at the RSS peak


def tree(root: int) -> list[int]:
    """`root` and every process below it, by the parent ids in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kind(pid: int) -> str:
    """What a process is, for the breakdown: the tool, a Playwright driver, the browser
    server, a Chromium process (by its --type), or other."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    words = [a.decode(errors="replace") for a in argv if a]
    program = Path(words[0]).name if words else "?"
    if "run-driver" in words:
        return "playwright driver (node)"
    if "launch-server" in words:
        return "browser server (node)" if program == "node" else "watchdog (sh)"
    if "chrom" in program:
        role = next((w.split("=", 1)[1] for w in words if w.startswith("--type=")), "browser")
        return f"chromium {role}"
    if "python" in program:
        return "htx-keys (python)"
    return program


def memory(pids: list[int]) -> tuple[int, int, dict[str, tuple[int, int, int]]]:
    """(RSS sum, PSS sum) in bytes, from smaps_rollup (kB), and the sums by kind."""
    rss = pss = 0
    kinds: dict[str, tuple[int, int, int]] = {}
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        one_rss = one_pss = 0
        for line in text.splitlines():
            if line.startswith("Rss:"):
                one_rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                one_pss = int(line.split()[1]) * 1024
        rss, pss = rss + one_rss, pss + one_pss
        n, r, p = kinds.get(kind(pid), (0, 0, 0))
        kinds[kind(pid)] = (n + 1, r + one_rss, p + one_pss)
    return rss, pss, kinds


def measure(args: list[str], env: dict[str, str], cwd: Path) -> Sample:
    started = time.monotonic()
    proc = subprocess.Popen(
        [*HTX_KEYS, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peak = [0, 0]
    at_peak: dict[str, tuple[int, int, int]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            rss, pss, kinds = memory(tree(proc.pid))
            if rss > peak[0]:
                at_peak.clear()
                at_peak.update(kinds)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    return Sample(wall, peak[0], peak[1], proc.returncode, err.decode(errors="replace"), at_peak)


def accounts_file(accounts: list[Account], server: SandboxServer, imap: EmbeddedImap) -> str:
    tables = []
    for n, account in enumerate(accounts):
        tables.append(
            f"[accounts.bench{n}]\nemail = '{account.email}'\n"
            f"base_url = '{server.base_url}'\napi_url = '{server.base_url}'\n"
            f"imap_host = '{imap.host}'\nimap_port = {imap.port}\nimap_user = '{imap.user}'\n"
            f"imap_security = 'starttls'\nimap_ca_file = '{imap.ca_file}'\n"
            "mail_from = '*@htx.com'\n"
        )
    return "\n".join(tables)


def run(count: int, jobs: int, totp_period: int) -> None:
    accounts = [
        Account(
            email=f"bench{n}@example.test",
            password=f"bench-password-{n}-{os.getpid()}",
            totp_secret=pyotp.random_base32(),
            uid=40000001 + n,
            mailbox=f"bench{n}@example.test",
            sub_uids=(40001001 + 2 * n, 40001002 + 2 * n),
        )
        for n in range(count)
    ]
    with tempfile.TemporaryDirectory(prefix="htx-bench-batch-") as tmp:
        base = Path(tmp)
        imap = EmbeddedImap(base / "imap", user="team")
        (base / "imap").mkdir()
        imap.start()
        try:
            target = MailTarget.parse(imap.delivery_url(), ca_file=imap.ca_file)
            config = SandboxConfig(accounts=accounts, mail_target=target, totp_step_s=totp_period)
            with SandboxServer(config) as server:
                (base / "accounts.toml").write_text(accounts_file(accounts, server, imap))
                env = {
                    **os.environ,
                    "HTX_KEYS_CONFIG": str(base / "accounts.toml"),
                    "HTX_KEYS_STATE_DIR": str(base / "state"),
                    "HTX_KEYS_SESSION": "none",
                    "HTX_TOTP_PERIOD": str(totp_period),
                }
                for n, account in enumerate(accounts):
                    env[f"HTX_PASSWORD_BENCH{n}"] = account.password
                    env[f"HTX_TOTP_SECRET_BENCH{n}"] = account.totp_secret
                    env[f"HTX_IMAP_PASSWORD_BENCH{n}"] = imap.password
                results = {}
                for label, n_jobs in (("baseline --jobs 1", 1), (f"--jobs {jobs}", jobs)):
                    store = f"json:{base / f'keys-{n_jobs}.json'}"
                    args = ["provision", "--all-accounts", "--jobs", str(n_jobs)]
                    args += ["--note", f"bench jobs {n_jobs}", "--store", store, "--quiet"]
                    sample = measure(args, env, base)
                    if sample.returncode != 0:
                        print(f"{label}: exit {sample.returncode}\n{sample.stderr}")
                        raise SystemExit(1)
                    results[label] = sample
        finally:
            imap.stop()
    print(f"{count} accounts, GA step {totp_period} s, {os.cpu_count()} CPUs (shared, noisy)")
    for label, sample in results.items():
        print(
            f"{label:<18} wall {sample.wall:6.1f} s  {60 * count / sample.wall:5.1f} keys/min  "
            f"peak RSS sum {sample.peak_rss / 2**20:6.0f} MB  peak PSS sum "
            f"{sample.peak_pss / 2**20:6.0f} MB"
        )
    one, many = results["baseline --jobs 1"], results[f"--jobs {jobs}"]
    print(f"at the RSS peak of --jobs {jobs}, by process kind (count, RSS, PSS):")
    for name, (n, rss, pss) in sorted(many.at_peak.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:<32} {n:3d}  {rss / 2**20:6.0f} MB  {pss / 2**20:6.0f} MB")
    print(f"throughput ratio --jobs {jobs} / --jobs 1: {one.wall / many.wall:.2f} (goal >= 2)")
    print(f"peak RSS sum with --jobs {jobs}: {many.peak_rss / 2**20:.0f} MB (goal < 600 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accounts", nargs="?", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--totp-period", type=int, default=30)
    args = parser.parse_args()
    run(args.accounts, args.jobs, args.totp_period)


if __name__ == "__main__":
    main()
