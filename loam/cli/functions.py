"""``loam functions list|get|delete``: ListFunctions, GetFunction, DeleteFunction."""

from __future__ import annotations

import argparse
from typing import Any

from loam.cli.connection import Connection, client_options
from loam.cli.output import Output

__all__ = ["CONFIGURATION_FIELDS", "LIST_COLUMNS", "register"]

LIST_COLUMNS = ("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "CODE SIZE", "LAST MODIFIED")

# GetFunction's Configuration members shown by ``functions get``, in this order.
CONFIGURATION_FIELDS = (
    "FunctionName", "FunctionArn", "Version", "Runtime", "Handler", "Role", "MemorySize",
    "Timeout", "Architectures", "PackageType", "CodeSize", "CodeSha256", "State",
    "StateReason", "LastUpdateStatus", "LastUpdateStatusReason", "LastModified",
    "Description", "RevisionId",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parent = client_options()
    functions = sub.add_parser("functions", help="list, show and delete functions")
    actions = functions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[parent], help="every function, all pages")
    listing.set_defaults(run=_list)
    get = actions.add_parser("get", parents=[parent], help="one function's configuration")
    get.add_argument("name", help="function name or ARN")
    get.add_argument("--qualifier", default=None, help="a version or alias")
    get.set_defaults(run=_get)
    delete = actions.add_parser("delete", parents=[parent], help="delete a function or version")
    delete.add_argument("name", help="function name or ARN")
    delete.add_argument("--qualifier", default=None,
                        help="delete only this version (default: the whole function)")
    delete.set_defaults(run=_delete)


def list_rows(functions: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return [(f.get("FunctionName"), f.get("Runtime"), f.get("Handler"), f.get("MemorySize"),
             f.get("Timeout"), f.get("CodeSize"), f.get("LastModified"))
            for f in sorted(functions, key=lambda f: str(f.get("FunctionName")))]


def configuration_fields(configuration: dict[str, Any]) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [
        (name, configuration[name]) for name in CONFIGURATION_FIELDS if name in configuration]
    variables = configuration.get("Environment", {}).get("Variables", {})
    fields.extend((f"Environment.{key}", value) for key, value in sorted(variables.items()))
    return fields


def _list(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    lam = connection.client("lambda")
    functions: list[dict[str, Any]] = []
    for page in lam.get_paginator("list_functions").paginate():
        functions.extend(page.get("Functions", []))
    out.table(LIST_COLUMNS, list_rows(functions), document={"Functions": functions})
    return 0


def _get(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    lam = connection.client("lambda")
    params = {"FunctionName": args.name}
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    response = lam.get_function(**params)
    response.pop("ResponseMetadata", None)
    out.record(configuration_fields(response.get("Configuration", {})), response)
    return 0


def _delete(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    lam = connection.client("lambda")
    params = {"FunctionName": args.name}
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    lam.delete_function(**params)
    target = f"{args.name}:{args.qualifier}" if args.qualifier else args.name
    if out.is_json:
        out.json({"FunctionName": args.name, "Qualifier": args.qualifier, "Deleted": True})
    else:
        out.note(f"loam: deleted {target}")
    return 0
