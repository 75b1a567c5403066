-- Run once by the postgres image on an empty data folder: Dagster's storage is a database of its own.
CREATE DATABASE interest_pipeline_dagster;
