"""Run tags -> the execution's trigger."""

import pytest

from interest_pipeline.batch.trigger import trigger_from_tags


class TestTriggerFromTags:
    @pytest.mark.parametrize(
        ("tags", "trigger"),
        [
            ({"dagster/schedule_name": "s", "dagster/partition": "2025-01-01"}, "SCHEDULE"),
            ({"dagster/sensor_name": "x"}, "SENSOR"),
            ({"dagster/backfill": "b"}, "BACKFILL"),
            ({"dagster/partition": "2025-01-01"}, "MANUAL"),
        ],
    )
    def test_trigger(self, tags: dict[str, str], trigger: str) -> None:
        assert trigger_from_tags(tags) == trigger
