"""Scale-out: the celery executor, its workers, deployment files, and the executors' run config."""
