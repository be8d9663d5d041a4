#!/usr/bin/env python3
"""A taskflow client in Python, built only from the .proto files.

    python tests/python/client.py 127.0.0.1:50051 /tmp/taskflow-stubs

Run it with a Python that has grpcio-tools (scripts/test puts it in .tools/venv). It
generates the stubs into the output directory, then, as user `alice`:
creates a task, finds it with a filter, creates a daily recurring task, completes it, waits
for the next occurrence the server creates, and checks that a bad request, and one with a
huge bad value, are refused with INVALID_ARGUMENT. It prints a JSON summary on stdout and exits non-zero on any failure.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
USER = "alice"
PARENT = f"users/{USER}"
METADATA = (("x-user-id", USER),)  # development mode; with JWTs: ("authorization", "Bearer …")
RPC_TIMEOUT = 5.0  # seconds, per call
NEXT_OCCURRENCE_DEADLINE = 10.0  # seconds to wait for the server to create the next occurrence


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def generate_stubs(out_dir):
    """python -m grpc_tools.protoc -I proto --python_out=OUT --grpc_python_out=OUT ...

    grpc_tools bundles the well-known types (google/protobuf/timestamp.proto, ...)."""
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        raise Failure(f"{sys.executable} has no grpc_tools "
                      "(run scripts/test, or pip install grpcio-tools)") from None
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    protos = ["proto/taskflow/v1/tasks.proto", "proto/taskflow/v1/notifications.proto"]
    command = [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto",
               f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *protos]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    check(result.returncode == 0,
          f"protoc failed ({' '.join(command)}):\n{result.stderr.strip()}")
    sys.path.insert(0, out_dir)  # the stubs import each other as taskflow.v1.*


def main(addr, out_dir):
    generate_stubs(out_dir)
    import grpc
    from google.protobuf import timestamp_pb2
    from taskflow.v1 import notifications_pb2, notifications_pb2_grpc, tasks_pb2, tasks_pb2_grpc

    channel = grpc.insecure_channel(addr)
    try:
        grpc.channel_ready_future(channel).result(timeout=RPC_TIMEOUT)
    except grpc.FutureTimeoutError:
        raise Failure(f"cannot connect to {addr} within {RPC_TIMEOUT:.0f} s") from None
    tasks = tasks_pb2_grpc.TaskServiceStub(channel)
    notifications = notifications_pb2_grpc.NotificationServiceStub(channel)
    call = dict(metadata=METADATA, timeout=RPC_TIMEOUT)

    # Create a task (request_id makes a retry return the same task).
    created = tasks.CreateTask(tasks_pb2.CreateTaskRequest(
        parent=PARENT,
        request_id=str(uuid.uuid4()),
        task=tasks_pb2.Task(title="Buy milk", priority=tasks_pb2.PRIORITY_HIGH,
                            tags=["Home", "errands"]),
    ), **call)
    check(created.name.startswith(f"{PARENT}/tasks/"), f"unexpected name {created.name!r}")
    check(list(created.tags) == ["errands", "home"], f"tags not normalised: {created.tags}")

    # List with a filter: the new task is there.
    task_filter = 'completed = false AND tags:"home"'
    listed = tasks.ListTasks(tasks_pb2.ListTasksRequest(
        parent=PARENT, filter=task_filter, order_by="create_time"), **call)
    listed_names = [t.name for t in listed.tasks]
    check(created.name in listed_names,
          f"ListTasks(filter={task_filter!r}) did not return {created.name}: {listed_names}")

    # A daily recurring task, due tomorrow at 09:00 UTC; completing it makes the server
    # create the next occurrence (through its own event handlers), due a day later.
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    due = tomorrow.replace(hour=9, minute=0, second=0, microsecond=0)
    due_time = timestamp_pb2.Timestamp()
    due_time.FromDatetime(due)
    recurring = tasks.CreateTask(tasks_pb2.CreateTaskRequest(
        parent=PARENT,
        task=tasks_pb2.Task(
            title="Water the plants", tags=["home"], due_time=due_time, time_zone="UTC",
            recurrence=tasks_pb2.Recurrence(frequency=tasks_pb2.FREQUENCY_DAILY)),
    ), **call)
    check(recurring.occurrence == 1, f"first occurrence is {recurring.occurrence}, not 1")
    completed = tasks.CompleteTask(tasks_pb2.CompleteTaskRequest(name=recurring.name), **call)
    check(completed.completed, f"{recurring.name} is not completed after CompleteTask")

    next_task = None
    deadline = time.monotonic() + NEXT_OCCURRENCE_DEADLINE
    while next_task is None:
        page = tasks.ListTasks(tasks_pb2.ListTasksRequest(
            parent=PARENT, filter="completed = false", page_size=500), **call)
        next_task = next((t for t in page.tasks
                          if t.series == recurring.series and t.occurrence == 2), None)
        if next_task is None:
            check(time.monotonic() < deadline,
                  f"no next occurrence of series {recurring.series} within "
                  f"{NEXT_OCCURRENCE_DEADLINE:.0f} s of completing {recurring.name}")
            time.sleep(0.05)
    expected_due = due + datetime.timedelta(days=1)
    actual_due = next_task.due_time.ToDatetime(tzinfo=datetime.timezone.utc)
    check(actual_due == expected_due,
          f"next occurrence due {actual_due.isoformat()}, expected {expected_due.isoformat()}")

    # The notifications stubs work too (nothing is due soon, so the list may be empty).
    notes = notifications.ListNotifications(
        notifications_pb2.ListNotificationsRequest(parent=PARENT), **call)

    # A bad request is refused with INVALID_ARGUMENT.
    try:
        tasks.CreateTask(tasks_pb2.CreateTaskRequest(
            parent=PARENT, task=tasks_pb2.Task(title="   ")), **call)
        raise Failure("CreateTask with a blank title succeeded")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT,
              f"blank title gave {error.code()}, not INVALID_ARGUMENT: {error.details()}")
        invalid = {"code": error.code().name, "details": error.details()}

    # A huge bad value is refused with INVALID_ARGUMENT too: the error quotes only an excerpt
    # of it, so its trailers stay within what gRPC clients accept (8 KiB for grpcio).
    huge_zone = "Europe/" + "\u00dc" * 5000
    try:
        tasks.CreateTask(tasks_pb2.CreateTaskRequest(
            parent=PARENT, task=tasks_pb2.Task(title="Huge zone", time_zone=huge_zone)), **call)
        raise Failure("CreateTask with a 5007-character time zone succeeded")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT,
              f"a huge time zone gave {error.code()}, not INVALID_ARGUMENT: "
              f"{(error.details() or '')[:200]}")
        trailers = sum(len(key) + len(value) for key, value in error.trailing_metadata() or ())
        huge = {"code": error.code().name, "details_length": len(error.details() or ""),
                "trailers_length": trailers}

    channel.close()
    return {
        "created": {"name": created.name, "title": created.title, "tags": list(created.tags)},
        "filter": {"filter": task_filter, "names": listed_names,
                   "found": created.name in listed_names},
        "recurring": {"name": recurring.name, "series": recurring.series,
                      "occurrence": recurring.occurrence,
                      "due_time": recurring.due_time.ToJsonString()},
        "next": {"name": next_task.name, "series": next_task.series,
                 "occurrence": next_task.occurrence,
                 "due_time": next_task.due_time.ToJsonString()},
        "notifications": len(notes.notifications),
        "invalid_argument": invalid,
        "huge_time_zone": huge,
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} HOST:PORT OUTPUT_DIR")
    try:
        summary = main(sys.argv[1], sys.argv[2])
    except Failure as failure:
        sys.exit(f"client.py: FAILED: {failure}")
    except ImportError as error:
        sys.exit(f"client.py: FAILED: {error} (run scripts/test, or pip install grpcio-tools)")
    except Exception as error:  # grpc.RpcError, a channel that never became ready, ...
        code = getattr(error, "code", None)
        detail = f"{code()}: {error.details()}" if callable(code) else repr(error)
        sys.exit(f"client.py: FAILED: {type(error).__name__}: {detail}")
    print(json.dumps(summary, indent=2))
