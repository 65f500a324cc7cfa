"""What the client commands print: tables, text, JSON, cells, error lines and exit codes."""

from __future__ import annotations

import io
import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from loam.cli.connection import CommandFailed, ExitCode, UsageError, run_command
from loam.cli.functions import LIST_COLUMNS, configuration_fields, list_rows
from loam.cli.invoke import result_document
from loam.cli.output import Output, cell

FUNCTIONS = [
    {"FunctionName": "zeta", "Runtime": "python3.12", "Handler": "index.handler",
     "MemorySize": 128, "Timeout": 3, "CodeSize": 300, "LastModified": "2024-01-01"},
    {"FunctionName": "alpha", "Runtime": "nodejs20.x", "Handler": "index.handler",
     "MemorySize": 512, "Timeout": 30, "CodeSize": 1000, "LastModified": "2024-02-02"},
]


def _output(fmt: str | None, color: bool | None = None) -> tuple[Output, io.StringIO]:
    stdout = io.StringIO()
    return Output(fmt, stdout=stdout, stderr=io.StringIO(), color=color), stdout


def test_piped_output_defaults_to_text_rows_without_header() -> None:
    out, stdout = _output(None)
    assert out.format == "text"
    out.table(LIST_COLUMNS, list_rows(FUNCTIONS))
    assert stdout.getvalue().splitlines() == [
        "alpha\tnodejs20.x\tindex.handler\t512\t30\t1000\t2024-02-02",
        "zeta\tpython3.12\tindex.handler\t128\t3\t300\t2024-01-01",
    ]


def test_json_prints_the_api_document() -> None:
    out, stdout = _output("json")
    out.table(LIST_COLUMNS, list_rows(FUNCTIONS), document={"Functions": FUNCTIONS})
    assert json.loads(stdout.getvalue()) == {"Functions": FUNCTIONS}


def test_table_has_a_header_and_colour_on_a_terminal() -> None:
    pytest.importorskip("rich")
    out, stdout = _output("table", color=True)
    out.table(LIST_COLUMNS, list_rows(FUNCTIONS))
    text = stdout.getvalue()
    assert "\x1b[" in text  # ANSI styles
    plain_out, plain = _output("table", color=False)
    plain_out.table(LIST_COLUMNS, list_rows(FUNCTIONS))
    lines = plain.getvalue().splitlines()
    assert "\x1b[" not in plain.getvalue()
    assert lines[0].split() == ["NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "CODE",
                                "SIZE", "LAST", "MODIFIED"]
    assert lines[1].split()[0] == "alpha" and lines[2].split()[0] == "zeta"


def test_record_fields_include_environment_variables() -> None:
    config = {"FunctionName": "fn", "MemorySize": 128, "Architectures": ["x86_64"],
              "Environment": {"Variables": {"B": "2", "A": "1"}}, "Unshown": 1}
    fields = configuration_fields(config)
    assert fields == [("FunctionName", "fn"), ("MemorySize", 128),
                      ("Architectures", ["x86_64"]), ("Environment.A", "1"),
                      ("Environment.B", "2")]
    out, stdout = _output("text")
    out.record(fields, config)
    assert stdout.getvalue().splitlines()[2] == 'Architectures\t["x86_64"]'


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), (True, "true"), (3, "3"), ({"b": 1, "a": [1]}, '{"a":[1],"b":1}')])
def test_cells(value: object, text: str) -> None:
    assert cell(value) == text


def test_invoke_document_parses_json_payloads_and_decodes_the_tail() -> None:
    response = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "FunctionError": "Unhandled",
                "LogResult": "U1RBUlQK"}
    assert result_document(response, b'{"errorType": "ValueError"}') == {
        "StatusCode": 200, "ExecutedVersion": "$LATEST", "FunctionError": "Unhandled",
        "Payload": {"errorType": "ValueError"}, "LogResult": "START\n"}
    assert result_document({"StatusCode": 202}, b"") == {"StatusCode": 202, "Payload": None}
    assert result_document({"StatusCode": 200}, b"not json")["Payload"] == "not json"


def _fails(exc: BaseException) -> tuple[int, str]:
    def command() -> int:
        raise exc
    stderr = io.StringIO()
    code = run_command(command, stderr=stderr)
    return code, stderr.getvalue()


def test_api_errors_are_one_line_and_exit_3() -> None:
    error = ClientError({"Error": {"Code": "ResourceNotFoundException",
                                   "Message": "Function not found: arn:x"}}, "GetFunction")
    assert _fails(error) == (3, "loam: ResourceNotFoundException: Function not found: arn:x\n")


def test_connection_errors_exit_4() -> None:
    code, line = _fails(EndpointConnectionError(endpoint_url="http://127.0.0.1:1/x"))
    assert code == int(ExitCode.CONNECTION) == 4
    assert line == 'loam: EndpointConnectionError: Could not connect to the endpoint URL: ' \
                   '"http://127.0.0.1:1/x"\n'


def test_usage_failures_exit_2() -> None:
    assert _fails(UsageError("fn does not exist yet")) == (2, "loam: fn does not exist yet\n")
    code, line = _fails(NoCredentialsError())
    assert (code, line) == (2, "loam: NoCredentialsError: Unable to locate credentials\n")
    code, line = _fails(FileNotFoundError(2, "No such file or directory", "event.json"))
    assert code == 2 and line.startswith("loam: ") and line.count("\n") == 1


def test_a_failed_update_reports_its_reason_code() -> None:
    failed = CommandFailed("InvalidRuntime", "The runtime\nis gone")
    assert _fails(failed) == (3, "loam: InvalidRuntime: The runtime is gone\n")


def test_success_passes_the_command_exit_code_through() -> None:
    assert run_command(lambda: 1, stderr=io.StringIO()) == ExitCode.FUNCTION_ERROR
    assert run_command(lambda: 0, stderr=io.StringIO()) == ExitCode.OK
