"""The data pipeline's last step: start the training pipeline for exactly the new data version.

A module of its own because it compiles the training pipeline, whose components call
:mod:`jukebox.pipelines.tasks`: kept apart, the two never import each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from jukebox.config import embedded_refused, load_settings, public_url
from jukebox.errors import JukeboxError
from jukebox.pipelines.tasks import recorded, task_settings

KFP_RUNTIME = "_KFP_RUNTIME"


def trigger_training(
    commit: str,
    model_name: str,
    tolerance: float,
    hyperparameters: dict,
    kfp_host: str = "",
    registry_url: str = "",
    data_repo_url: str = "",
) -> str:
    """Start the training pipeline for the data version ``commit`` on Kubeflow Pipelines;
    returns its run id. Here (no ``KFP_HOST``) the continuous-training watcher starts it
    instead, with the model name, tolerance and hyperparameters this hands over to it.

    The training run gets this run's registry and data repository as its parameters: compiled
    in a pod, its defaults would name nothing.
    """
    with recorded("trigger-training") as outputs:
        settings = task_settings(registry_url=registry_url, data_repo_url=data_repo_url)
        settings = replace(settings, kfp_host=kfp_host or settings.kfp_host)
        if not settings.pipelines_are_remote:
            from jukebox.pipelines.automation_state import hand_over

            said = hand_over(settings, commit, model_name, tolerance, hyperparameters)
            print(f"[trigger-training] {said}")  # a task line: on the terminal, not only the log
            outputs.update(handed_over=commit)
            return ""
        # The training run on the cluster reads both, and has no embedded default for either.
        for concern, address in (
            ("model registry", settings.registry_url),
            ("data repository", settings.data_git_url),
        ):
            if not address:
                raise embedded_refused(concern, "The training run this starts runs on a cluster")
        from jukebox.model.network import TrainingParams
        from jukebox.pipelines.params import RunParams

        params = RunParams(
            model_name=model_name,
            source="version",
            source_options={"ref": commit},
            training=TrainingParams.from_dict(hyperparameters),
            tolerance=tolerance,
        )
        arguments = params.arguments() | {
            "registry_url": settings.registry_url,
            "data_repo_url": public_url(settings.data_git_url),
        }
        run_id = _submit(settings.kfp_host, arguments, commit)
        print(f"Submitted training run {run_id} for data version {commit[:7]}")
        outputs.update(training_run=run_id)
    return run_id


def submit_training(kfp_host: str, arguments: dict, commit: str) -> str:
    """Compile the training pipeline and submit one run of it with ``arguments``; its id."""
    from jukebox.pipelines import remote
    from jukebox.pipelines.training import compile_pipeline

    settings = replace(load_settings(), kfp_host=kfp_host)
    with tempfile.TemporaryDirectory() as scratch:
        package = compile_pipeline(Path(scratch) / "jukebox-training.yaml", settings)
        run = remote.submit_run(
            settings, package, arguments, run_name=f"training on data {commit[:7]}"
        )
    return run.id


def _submit(kfp_host: str, arguments: dict, commit: str) -> str:
    """:func:`submit_training`, in a process of its own when this is a KFP task: kfp's runtime
    mode (``_KFP_RUNTIME``) leaves out of ``kfp`` the client and the compiler both need. The
    image and the secret names come from the environment, where the pod contract put them."""
    if not os.environ.get(KFP_RUNTIME):
        return submit_training(kfp_host, arguments, commit)
    result = subprocess.run(
        [sys.executable, "-m", __name__],
        input=json.dumps({"kfp_host": kfp_host, "arguments": arguments, "commit": commit}),
        env={k: v for k, v in os.environ.items() if k != KFP_RUNTIME},
        capture_output=True,
        text=True,
        check=False,
    )
    said = result.stdout.strip().splitlines()
    if result.returncode != 0 or not said:
        # The child's sentence, not the warnings libraries may print before it.
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        raise TriggerError(errors[-1].removeprefix("error: ") if errors else result.stderr[-500:])
    return said[-1]


class TriggerError(JukeboxError, RuntimeError):
    """The training run could not be submitted; the message is the submitting process's."""


if __name__ == "__main__":
    request = json.load(sys.stdin)
    try:
        print(submit_training(request["kfp_host"], request["arguments"], request["commit"]))
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
