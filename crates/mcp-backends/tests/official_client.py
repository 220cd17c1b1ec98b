"""Drives the sre-agent MCP backends with the official MCP Python SDK (a client we did not write).

Usage: python3 official_client.py [--header NAME=VALUE]... URL...

For every URL (one backend each, streamable HTTP) it initializes a session, lists the tools, calls every tool
with valid arguments and checks that each answer is one text block holding a JSON object, then checks that a
call with an argument of the wrong type is refused with an error naming the argument. It prints one line per
backend and exits 0 when everything held, 1 when something did not, 2 on bad usage, 3 when the SDK is missing.
"""

import asyncio
import json
import sys

PIP_COMMAND = "python3 -m pip install 'mcp==2.3.0'"

try:
    import mcp
    from mcp import ClientSession
except ImportError as error:
    print(
        f"the official MCP Python SDK is not importable ({error}); install it with: {PIP_COMMAND}",
        file=sys.stderr,
    )
    sys.exit(3)

try:  # SDK 2.x
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client
except ImportError:  # SDK 1.x
    streamable_http_client = None
    from mcp.client.streamable_http import streamablehttp_client

# Valid arguments for every tool of the four backends; they hold for every bundled scenario.
ARGUMENTS = {
    "get_pod_status": {"namespace": "production"},
    "get_deployment_status": {"namespace": "production"},
    "get_cluster_events": {"since": "3h", "severity": "Warning"},
    "get_resource_usage": {"namespace": "production", "resource_type": "memory"},
    "get_node_status": {},
    "search_logs": {"pattern": "error|timeout|refused", "start_time": "3h"},
    "get_error_logs": {"since": "3h"},
    "analyze_log_patterns": {"time_window": "3h", "min_occurrences": 2},
    "get_recent_logs": {"limit": 20},
    "count_log_events": {"event_type": "ERROR", "time_window": "3h", "group_by": "service"},
    "get_performance_metrics": {"metric_type": "response_time"},
    "get_error_rates": {"time_window": "2h"},
    "get_resource_metrics": {"resource_type": "memory", "time_window": "2h"},
    "get_availability_metrics": {"time_window": "1h"},
    "analyze_trends": {"metric_name": "response_time", "time_window": "2h"},
    "search_runbooks": {"keyword": "latency regression"},
    "get_incident_playbook": {"playbook_id": "PB-HIGH-LATENCY"},
    "get_troubleshooting_guide": {"category": "kubernetes"},
    "get_escalation_procedures": {"severity": "high"},
    "get_common_resolutions": {"issue": "connection pool exhausted"},
}

# One call per backend whose argument has the wrong type, and the field the refusal must name.
BAD_CALLS = {
    "k8s-backend": ("get_pod_status", {"namespace": 5}, "namespace"),
    "logs-backend": ("get_recent_logs", {"limit": "five"}, "limit"),
    "metrics-backend": ("analyze_trends", {"metric_name": 7}, "metric_name"),
    "runbooks-backend": ("get_incident_playbook", {"playbook_id": ["PB-HIGH-LATENCY"]}, "playbook_id"),
}


class Failure(Exception):
    """A check that did not hold."""


def connect(url, headers):
    if streamable_http_client is not None:
        return streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    return streamablehttp_client(url, headers=headers)


async def check_backend(url, headers):
    async with connect(url, headers) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            server = field(init, "server_info", "serverInfo").name
            listed = await session.list_tools()
            names = sorted(tool.name for tool in listed.tools)
            if len(names) != 5:
                raise Failure(f"{server} at {url} lists {len(names)} tools, expected 5: {names}")
            for tool in listed.tools:
                schema = field(tool, "input_schema", "inputSchema")
                if schema.get("type") != "object":
                    raise Failure(f"{server}: {tool.name} has no object input schema: {schema}")
            for name in names:
                if name not in ARGUMENTS:
                    raise Failure(f"{server}: unexpected tool {name}")
                result = await session.call_tool(name, ARGUMENTS[name])
                if field(result, "is_error", "isError"):
                    raise Failure(f"{server}: {name} answered with an error: {text_of(result)}")
                answer = json.loads(text_of(result))
                if not isinstance(answer, dict) or not answer:
                    raise Failure(f"{server}: {name} answered {answer!r}, expected a JSON object")
            tool, arguments, argument = BAD_CALLS[server]
            try:
                result = await session.call_tool(tool, arguments)
            except Exception as error:  # the SDK raises its MCP error type for a JSON-RPC error
                message = str(error)
                if "invalid params" not in message or argument not in message:
                    raise Failure(f"{server}: the refusal of {tool}{arguments} does not name {argument}: {message}")
            else:
                raise Failure(f"{server}: {tool}{arguments} was not refused: {text_of(result)}")
            return server, names


def field(obj, name, name_1x):
    """An attribute under its SDK 2.x name, or its SDK 1.x (camelCase) name."""
    return getattr(obj, name) if hasattr(obj, name) else getattr(obj, name_1x)


def text_of(result):
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if len(texts) != 1:
        raise Failure(f"expected one text block, found {result.content!r}")
    return texts[0]


def parse_args(argv):
    headers, urls = {}, []
    args = iter(argv)
    for arg in args:
        if arg == "--header":
            value = next(args, None)
            if value is None or "=" not in value:
                raise SystemExit("usage: official_client.py [--header NAME=VALUE]... URL...")
            name, _, content = value.partition("=")
            headers[name] = content
        else:
            urls.append(arg)
    if not urls:
        raise SystemExit("usage: official_client.py [--header NAME=VALUE]... URL...")
    return headers, urls


async def main(argv):
    headers, urls = parse_args(argv)
    tools = 0
    for url in urls:
        try:
            server, names = await check_backend(url, headers)
        except Exception as error:
            print(f"FAILED: {url}: {describe(error)}", file=sys.stderr)
            return 1
        tools += len(names)
        print(f"ok {server} {url}: {', '.join(names)}")
    version = getattr(mcp, "__version__", None) or sdk_version()
    print(f"ok: {len(urls)} backends, {tools} tools listed and called with the official MCP Python SDK {version}")
    return 0


def describe(error):
    """The innermost errors of an exception group (anyio task groups wrap what really failed)."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return "; ".join(describe(e) for e in inner)
    if isinstance(error, Failure):
        return str(error)
    return f"{type(error).__name__}: {error}"


def sdk_version():
    try:
        from importlib.metadata import version

        return version("mcp")
    except Exception:
        return "(unknown version)"


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            sys.exit(2)
        raise
