CREATE DATABASE user_import_dagster;
