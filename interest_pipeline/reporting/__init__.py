"""Reports for people: the month report (pandas), its plot (matplotlib), explain, a run's tables."""
