"""`interest-pipeline ui`: the Dagster UI (webserver and daemon) over this project's definitions."""

import os
import shutil
import signal
import subprocess
import sys

import click

from interest_pipeline.settings import REPO_ROOT, database_url, ensure_dagster_home


def _default_signals() -> None:
    # A shell's background job may hand us SIGINT/SIGTERM ignored; the UI must still stop on them.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start `dagster dev` (webserver, schedules and sensors) on the configured database and instance."""
    database_url()  # resolves (and starts, if embedded) the database before Dagster's processes need it
    home = ensure_dagster_home()
    dagster = shutil.which("dagster", path=os.path.dirname(sys.executable)) or "dagster"
    command = [dagster, "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)]
    click.echo(f"DAGSTER_HOME={home}\nhttp://{host}:{port}", err=True)
    process = subprocess.Popen(command, cwd=REPO_ROOT, preexec_fn=_default_signals)
    try:
        sys.exit(process.wait())
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
