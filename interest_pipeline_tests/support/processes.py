"""Child processes that tests start and must never leave behind: own session, SIGKILL fallback."""

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence


def start(command: Sequence[str], env: Mapping[str, str], log_path: str) -> subprocess.Popen[bytes]:
    """Start `command` in its own session (so its whole tree can be signalled), output to a file."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            list(command),
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group at once (a worker that dies, not one that is stopped)."""
    _signal_group(process, signal.SIGKILL)
    process.wait(timeout=30)


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM the child's group, then SIGKILL what is left after `timeout` seconds."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    _signal_group(process, signal.SIGKILL)  # stragglers of the group, even after the leader exited
    if process.poll() is None:
        process.wait(timeout=30)


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        parents[int(stat)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children...), from /proc."""
    parents = _parents()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def kill_pid_tree(pid: int) -> None:
    """SIGKILL a process and everything below it: a worker that vanishes with its step processes."""
    for victim in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)


def session_members(sid: int) -> list[int]:
    """Processes still in session `sid` (a child's own session, start_new_session=True)."""
    members = []
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        except OSError:
            continue
        if int(fields[3]) == sid:
            members.append(int(stat))
    return members
