from user_import_pipeline.definitions import defs


def test_import_users_job_has_the_ops_of_the_spec() -> None:
    job = defs.resolve_job_def("import_users")
    names = {node.name for node in job.nodes}
    assert {"claim_import", "stage_users", "stage_addresses", "merge_users"} <= names
    assert {"replace_addresses", "finish_import"} <= names


def test_launchpad_config_is_typed_and_explained() -> None:
    job = defs.resolve_job_def("import_users")
    config = job.get_config_schema_snapshot()
    rendered = str(config)
    assert "source_path" in rendered and "IMPORT_BASE_DIR" in rendered
    assert "job_id" in rendered
