from user_import_pipeline_tests.importing import Importer


def test_first_import_then_identical_reimport(importer: Importer) -> None:
    users = [
        {"id": "a", "name": "Ann", "email": "ann@example.com", "addresses": []},
        {"name": "Bob", "email": "bob@example.com", "phone_number": 5551234},
    ]
    first = importer.import_users(users)
    assert first.succeeded
    assert first.job is not None
    assert first.job["status"] == "succeeded"
    assert first.counts["imported_count"] == 2
    second = importer.import_users(users)
    assert second.counts["unchanged_count"] == 2
    assert second.counts["imported_count"] == 0
