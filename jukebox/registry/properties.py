"""The names of what the registry records on a model version, in one place.

Each version carries these custom properties (the Kubeflow dashboard shows them as they are):

- ``metric.<name>``: the top-level numbers of ``metrics.json`` (accuracy, log loss…);
- ``verification.<name>``: the figures of the export verification (passed, largest
  differences between ONNX runtimes and Keras);
- ``param.<name>``: the training parameters;
- ``data.version`` (DVC md5), ``data.commit`` (git commit), ``data.md5.<table>`` and, as the
  workshop names them, ``DVC training data hash`` and ``remote "<name>"`` (the DVC remotes) when
  the data is a DVC version; ``data.source``, ``run.id`` (the
  training or pipeline run that made it);
- ``trigger``: why the run that made it started, when something started it (a drift alert:
  its id, the metric and the features it found drifted);
- ``pipeline_run_id``: the pipeline run that registered it, named as the workshop's continuous
  training records it (absent for a version registered by hand);
- ``model.sha256``: sha256 of ``model.onnx``, checked again on every fetch;
- ``bundle.origin``: the folder the bundle was registered from;
- ``modelscan.result`` (``passed``: a version whose files fail the scan is never registered),
  ``modelscan.issues`` (how many findings, all below medium), ``modelscan.summary`` (the
  findings in modelscan's words, the files scanned and those it has no scanner for, such as
  ``model.onnx``) and ``modelscan.version``: the scan of :mod:`jukebox.model.scan` made before
  the upload;
- ``jukebox.registration``: ``pending`` while registering, ``complete`` once the artifact is
  recorded, ``failed`` if that went wrong. Only complete versions are listed as usable, and a
  version left pending or failed is completed by registering the same version again, so a
  crash never leaves a half-registered version behind;
- ``jukebox.production``: true on the one version of a model marked for production;
- ``experiment.run_id`` and ``experiment.id``: the experiment run that logged the training
  of the bundle (recorded in its ``experiment_run.json``), whose artifacts then include the
  version's model artifact (see :mod:`jukebox.registry.experiments`).

The model artifact of a version records the format OpenVINO Model Server and KServe read.
"""

from __future__ import annotations

MODEL_FORMAT = "onnx"
MODEL_FORMAT_VERSION = "1"

REGISTRATION = "jukebox.registration"
PRODUCTION = "jukebox.production"
SHA256 = "model.sha256"
DATA_VERSION = "data.version"
DATA_COMMIT = "data.commit"
DATA_MD5 = "data.md5."
DVC_TRAINING_DATA_HASH = "DVC training data hash"
DATA_SOURCE = "data.source"
RUN_ID = "run.id"
PIPELINE_RUN_ID = "pipeline_run_id"
TRIGGER = "trigger"
BUNDLE_ORIGIN = "bundle.origin"
MODELSCAN_RESULT = "modelscan.result"
MODELSCAN_ISSUES = "modelscan.issues"
MODELSCAN_SUMMARY = "modelscan.summary"
MODELSCAN_VERSION = "modelscan.version"
EXPERIMENT_RUN_ID = "experiment.run_id"
EXPERIMENT_ID = "experiment.id"
METRIC = "metric."
VERIFICATION = "verification."
PARAM = "param."
