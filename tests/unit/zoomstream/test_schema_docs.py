from pathlib import Path

from zoomstream.schema_docs import render

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_published_schemas_match_the_models() -> None:
    for name, text in render().items():
        published = DOCS / name
        assert published.exists(), f"{name} missing: run `zoomstream schemas`"
        assert published.read_text() == text, f"{name} is stale: run `zoomstream schemas`"
