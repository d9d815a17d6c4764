"""Every operation of the service's OpenAPI schema fuzzed by Schemathesis (issue 23): valid and
invalid paths, queries and bodies generated from the schema, a fixed number of examples per
operation and mode, derandomized (the same cases every run). Each answer must be no 5xx, conform
to the schema (a documented status, a valid body; a 405 names the allowed methods), and every
error must be a JSON `{"error", "status"}` body. BENCHMARKS.md records the count of cases."""

from __future__ import annotations

import pytest

from embedrec.service import create_app
from tests.service_support import AUTH, TOKEN

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip: .[dev])")
hypothesis = pytest.importorskip("hypothesis")
# schema-valid data the model cannot take (a genre it lacks, a title naming nothing) is rightly
# a 4xx, which this check would call a failure; every other built-in check runs
positive_data_acceptance = pytest.importorskip(
    "schemathesis.specs.openapi.checks"
).positive_data_acceptance

EXAMPLES = 25  # per operation and mode (valid data, invalid data)
MODES = ("POSITIVE", "NEGATIVE")


def test_every_operation_answers_within_its_schema(served_model, tmp_path):
    app = create_app(served_model, f"sqlite:///{tmp_path / 'feedback.db'}", TOKEN)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    cases: list[str] = []
    unsatisfiable: list[str] = []

    def check(case: object) -> None:
        response = case.call_and_validate(  # type: ignore[attr-defined]
            headers=AUTH, excluded_checks=[positive_data_acceptance]
        )
        cases.append(f"{case.method} {case.path} -> {response.status_code}")  # type: ignore[attr-defined]
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            body = response.json()
            assert body["status"] == response.status_code and body["error"], body

    for operation in operations:
        for mode in MODES:
            strategy = operation.as_strategy(getattr(schemathesis.GenerationMode, mode))
            run = hypothesis.given(case=strategy)(check)
            try:
                hypothesis.settings(
                    max_examples=EXAMPLES,
                    derandomize=True,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(hypothesis.HealthCheck),
                )(run)()
            except hypothesis.errors.Unsatisfiable:
                # no invalid request exists for an operation without inputs (GET /health)
                unsatisfiable.append(f"{mode} {operation.label}")
    assert len(operations) == 13
    # no invalid request exists where the only inputs are a free-text path or the optional
    # Authorization header: every other operation got its invalid cases too
    assert set(unsatisfiable) == {
        "NEGATIVE GET /health",
        "NEGATIVE GET /items/{item}",
        "NEGATIVE PUT /items/{item}/hidden",
        "NEGATIVE DELETE /items/{item}/hidden",
    }
    print(f"schemathesis: {len(cases)} cases over {len(operations)} operations")
