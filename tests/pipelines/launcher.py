"""Runs a compiled pipeline YAML the way KFP's driver and launcher would on a cluster, here.

What a pod on a cluster gets, and nothing more:

- its own process, a fresh empty working directory that is also its ``HOME``;
- an environment scrubbed of everything but what the image provides (``PATH`` to Python,
  ``PYTHONPATH`` to the project, as the Jukebox image installs it) and what the compiled YAML
  declares for the task: the container's ``env``, the platform spec's ``secretAsEnv`` (filled
  from :attr:`Cluster.secrets`, failing the task as the kubelet does when a secret or key that
  is not optional is missing) and ``fieldPathAsEnv`` (``metadata.namespace``);
- the executor input KFP's driver builds: parameter values resolved from the run's arguments,
  the defaults, other tasks' output parameters and runtime constants (``{{$.pipeline_job_uuid}}``
  is the run's id); input artifacts at the paths upstream tasks wrote; output artifacts at fresh
  paths of the pipeline root.

Tasks run one at a time in the DAG's order; a ``triggerPolicy`` condition is evaluated on the
task's inputs, as the driver does, and a sub-DAG (``dsl.If``) is run with the inputs its parent
passes. A ``ParallelFor`` (a sub-DAG with a ``parameterIterator``) runs once per item, at most
``iteratorPolicy.parallelismLimit`` iterations at a time, its tasks named ``<task>-<index>``;
its output parameters are the lists of the iterations' values (what ``dsl.Collected`` reads).
The run stops at the first failed task: what KFP would still run of other branches
could not change what a test asserts, and skipping it keeps the tests short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[2]
_CONDITION = re.compile(r"^inputs\.parameter_values\['([^']+)'\]\s*(==|!=)\s*(.+)$")


@dataclass
class Cluster:
    """What the cluster holds for the run: its namespace and its secrets (name -> key -> value)."""

    namespace: str = "jukebox-test"
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class TaskResult:
    """One task as it ran: its exit status, what it printed, its outputs and its folder."""

    name: str
    returncode: int
    output: str
    workdir: Path
    environment: dict[str, str]
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, dict] = field(default_factory=dict)
    """Output artifact name -> {"uri": path, "metadata": {...}} as the executor reported it."""
    left_running: list[str] = field(default_factory=list)
    """Command lines of processes the task left behind (killed, as the pod's end would)."""

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


@dataclass
class Loop:
    """One ``ParallelFor`` as the harness ran it."""

    limit: int
    """``iteratorPolicy.parallelismLimit`` as compiled (0: no limit)."""
    items: int
    peak: int = 0
    """The most iterations that ran at the same time."""
    running: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass
class LauncherRun:
    job_id: str
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    """Tasks whose trigger condition was false."""
    loops: dict[str, Loop] = field(default_factory=dict)
    """Each ``ParallelFor`` as it ran: its parallelism limit, items and most at once."""

    @property
    def failed(self) -> TaskResult | None:
        return next((t for t in self.tasks.values() if not t.succeeded), None)

    @property
    def succeeded(self) -> bool:
        return self.failed is None


class PodStartError(Exception):
    """What the kubelet reports when it cannot make a task's container (a missing secret)."""


def run_compiled(
    package: Path,
    arguments: dict[str, Any],
    cluster: Cluster,
    root: Path,
    *,
    job_id: str | None = None,
    timeout: float = 600,
) -> LauncherRun:
    """Run the compiled pipeline ``package`` with ``arguments``; every file of it under ``root``."""
    documents = list(yaml.safe_load_all(Path(package).read_text()))
    spec = documents[0]
    platform = documents[1] if len(documents) > 1 else {}
    executors = platform.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = set(arguments) - set(declared)
    if unknown:  # the API server refuses a run with parameters the pipeline does not have
        raise ValueError(f"not parameters of the pipeline: {sorted(unknown)}")
    parameters = {
        name: arguments[name] if name in arguments else definition.get("defaultValue")
        for name, definition in declared.items()
    }
    run = LauncherRun(job_id or str(uuid.uuid4()))
    launcher = _Launcher(spec, executors.get("executors", {}), cluster, root, run, timeout)
    launcher.run_dag(spec["root"]["dag"], parameters, {})
    return run


class _Launcher:
    def __init__(self, spec, platform_executors, cluster, root, run, timeout) -> None:
        self.spec = spec
        self.platform = platform_executors
        self.cluster = cluster
        self.root = Path(root)
        self.run = run
        self.timeout = timeout

    def run_dag(
        self, dag: dict, parameters: dict, artifacts: dict, suffix: str = ""
    ) -> dict | None:
        """Run ``dag``'s tasks in order; its output parameters, or None once a task failed (the
        run stops there). ``suffix`` names the tasks of one ``ParallelFor`` iteration."""
        results: dict[str, dict] = {}
        for name in _in_order(dag["tasks"]):
            task = dag["tasks"][name]
            inputs = self._inputs(task, parameters, artifacts, results)
            condition = task.get("triggerPolicy", {}).get("condition")
            if condition and not _holds(condition, inputs[0]):
                self.run.skipped.append(name + suffix)
                results[name] = {"parameters": {}, "artifacts": {}}
                continue
            component = self.spec["components"][task["componentRef"]["name"]]
            if "dag" in component:
                if "parameterIterator" in task:
                    outputs = self._iterate(name, task, component, *inputs)
                else:
                    outputs = self.run_dag(component["dag"], *inputs, suffix=suffix)
                if outputs is None:
                    return None
                results[name] = {"parameters": outputs, "artifacts": {}}
                continue
            result = self._execute(name + suffix, component, *inputs)
            self.run.tasks[name + suffix] = result
            if not result.succeeded:
                return None
            results[name] = {
                "parameters": result.parameters,
                "artifacts": {k: v["uri"] for k, v in result.artifacts.items()},
            }
        outputs = {}
        for key, source in dag.get("outputs", {}).get("parameters", {}).items():
            source = source["valueFromParameter"]
            outputs[key] = results[source["producerSubtask"]]["parameters"][
                source["outputParameterKey"]
            ]
        return outputs

    def _iterate(self, name, task, component, parameters, artifacts) -> dict | None:
        """A ``ParallelFor``: the sub-DAG once per item, at most ``parallelismLimit`` at a time
        (0 or absent: all at once), as the driver does; each output parameter of the loop is
        the list of the iterations' values in item order, which ``dsl.Collected`` reads."""
        iterator = task["parameterIterator"]
        items = iterator["items"]
        if "inputParameter" in items:
            values = parameters[items["inputParameter"]]
        else:
            values = json.loads(items["raw"])
        if isinstance(values, str):
            values = json.loads(values)
        limit = int(task.get("iteratorPolicy", {}).get("parallelismLimit", 0) or 0)
        workers = limit or max(1, len(values))
        self.run.loops[name] = Loop(limit, len(values))
        loop = self.run.loops[name]

        def iteration(index: int, item: Any) -> dict | None:
            with loop.lock:
                loop.running += 1
                loop.peak = max(loop.peak, loop.running)
            try:
                scope = {**parameters, iterator["itemInput"]: item}
                return self.run_dag(component["dag"], scope, artifacts, suffix=f"-{index}")
            finally:
                with loop.lock:
                    loop.running -= 1

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(iteration, range(len(values)), values))
        if any(outcome is None for outcome in outcomes):
            return None
        keys = component["dag"].get("outputs", {}).get("parameters", {})
        return {key: [outcome[key] for outcome in outcomes] for key in keys}

    def _inputs(self, task, parameters, artifacts, results) -> tuple[dict, dict]:
        values = {}
        for name, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                values[name] = parameters[source["componentInputParameter"]]
            elif "taskOutputParameter" in source:
                producer = source["taskOutputParameter"]
                values[name] = results[producer["producerTask"]]["parameters"][
                    producer["outputParameterKey"]
                ]
            else:
                values[name] = self._constant(source["runtimeValue"]["constant"])
        paths = {}
        for name, source in task.get("inputs", {}).get("artifacts", {}).items():
            if "componentInputArtifact" in source:
                paths[name] = artifacts[source["componentInputArtifact"]]
            else:
                producer = source["taskOutputArtifact"]
                paths[name] = results[producer["producerTask"]]["artifacts"][
                    producer["outputArtifactKey"]
                ]
        return values, paths

    def _constant(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{{$.pipeline_job_uuid}}", self.run.job_id)
        return value

    def _execute(self, name: str, component: dict, parameters: dict, artifacts: dict):
        label = component["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        workdir = self.root / "pods" / name
        workdir.mkdir(parents=True)
        outputs_dir = self.root / "artifacts" / name
        outputs_dir.mkdir(parents=True)
        try:
            environment = self._environment(container, self.platform.get(label, {}), workdir)
        except PodStartError as error:
            return TaskResult(name, 1, f"pod could not start: {error}", workdir, {})
        definitions = component.get("outputDefinitions", {})
        executor_input = {
            "inputs": {
                "parameterValues": parameters,
                "artifacts": {
                    key: {"artifacts": [_artifact(key, path, component, "input")]}
                    for key, path in artifacts.items()
                },
            },
            "outputs": {
                "parameters": {
                    key: {"outputFile": str(outputs_dir / key)}
                    for key in definitions.get("parameters", {})
                },
                "artifacts": {
                    key: {"artifacts": [_artifact(key, outputs_dir / key, component, "output")]}
                    for key in definitions.get("artifacts", {})
                },
                "outputFile": str(outputs_dir / "executor_output.json"),
            },
        }
        command = [
            json.dumps(executor_input) if part == "{{$}}" else part
            for part in container["command"] + container.get("args", [])
        ]
        completed = subprocess.run(
            command,
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        result = TaskResult(
            name, completed.returncode, completed.stdout + completed.stderr, workdir, environment
        )
        result.left_running = _kill_leftovers(workdir)
        executor_output = outputs_dir / "executor_output.json"
        reported = json.loads(executor_output.read_text()) if executor_output.is_file() else {}
        result.parameters = {
            key: reported.get("parameterValues", {}).get(key, _read_parameter(outputs_dir / key))
            for key in definitions.get("parameters", {})
        }
        for key in definitions.get("artifacts", {}):
            listed = reported.get("artifacts", {}).get(key, {}).get("artifacts", [{}])[0]
            result.artifacts[key] = {
                "uri": str(outputs_dir / key),
                "metadata": listed.get("metadata", {}),
            }
        return result

    def _environment(self, container: dict, platform: dict, workdir: Path) -> dict[str, str]:
        python = Path(sys.executable).parent
        environment = {
            # What the image provides: its Python (with kfp) and the project.
            "PATH": f"{python}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
        }
        for variable in container.get("env", []):
            environment[variable["name"]] = variable["value"]
        for variable in platform.get("fieldPathAsEnv", []):
            assert variable["fieldPath"] == "metadata.namespace", variable
            environment[variable["name"]] = self.cluster.namespace
        for reference in platform.get("secretAsEnv", []):
            secret_name = reference["secretName"]
            secret = self.cluster.secrets.get(secret_name)
            optional = reference.get("optional", False)
            if secret is None:
                if optional:
                    continue
                raise PodStartError(f'secret "{secret_name}" not found')
            for item in reference["keyToEnv"]:
                if item["secretKey"] in secret:
                    environment[item["envVar"]] = secret[item["secretKey"]]
                elif not optional:
                    raise PodStartError(
                        f"couldn't find key {item['secretKey']} in Secret "
                        f"{self.cluster.namespace}/{secret_name}"
                    )
        return environment


def _artifact(key: str, path: Path | str, component: dict, side: str) -> dict:
    definitions = component[f"{side}Definitions"]["artifacts"][key]
    return {
        "name": key,
        "type": {"schemaTitle": definitions["artifactType"]["schemaTitle"]},
        "uri": str(path),
        "metadata": {},
    }


def _read_parameter(path: Path) -> Any:
    if not path.is_file():
        return None
    text = path.read_text()
    try:
        return json.loads(text)
    except ValueError:
        return text


def _in_order(tasks: dict) -> list[str]:
    """The tasks in an order that respects ``dependentTasks`` (ties by name, as compiled)."""
    done: list[str] = []
    waiting = dict(sorted(tasks.items()))
    while waiting:
        ready = [n for n, t in waiting.items() if set(t.get("dependentTasks", ())) <= set(done)]
        assert ready, f"a cycle among {sorted(waiting)}"
        done.append(ready[0])
        del waiting[ready[0]]
    return done


def _holds(condition: str, parameters: dict) -> bool:
    """A trigger condition as the compiler writes it: one input compared with a literal."""
    match = _CONDITION.match(condition.strip())
    assert match, f"a condition this harness cannot read: {condition}"
    name, operator, literal = match.groups()
    literal = literal.strip()
    expected = literal[1:-1] if literal.startswith("'") else json.loads(literal)
    return (parameters[name] == expected) == (operator == "==")


def _kill_leftovers(workdir: Path) -> list[str]:
    """A pod's processes end with it: kill any the task left behind (an embedded registry would
    be one) and name them, since on a cluster whatever they held is gone."""
    left = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cwd = process.info.get("cwd") or ""
            if cwd.startswith(str(workdir)) or any(
                str(workdir) in part for part in process.info["cmdline"] or ()
            ):
                process.kill()
                left.append(" ".join(process.info["cmdline"] or ()))
        except psutil.Error:
            continue
    return left


def output(text: str, sentence: str) -> bool:
    """Whether ``sentence`` is in ``text`` once line breaks are undone (a task's log wraps)."""
    return sentence in " ".join(text.split())
