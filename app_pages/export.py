"""Export: turn a trained model into ONNX, prove it computes what Keras does, download it.

Export runs here, on the button press (a few seconds); TensorFlow is imported only then.
"""

from __future__ import annotations

import streamlit as st

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.model.bundle import CARD_FILE, ONNX_FILE
from jukebox.model.runs import bundle_zip, list_trainings
from jukebox.ui import model as figures

SELECTED = "export_selected"
FLASH = "export_flash"

settings = load_settings()
st.title("Export")
st.caption(
    "Export a trained model to ONNX (raw features in, probabilities per country out, the scaling "
    "inside the graph) and check with onnxruntime and OpenVINO that it gives what Keras gives."
)

records = list_trainings(settings)
if not records:
    st.info("No trained model yet: train one on the Train page, then come back here.")
    st.stop()

by_id = {r.id: r for r in records}
ids = list(by_id)
chosen = st.session_state.get(SELECTED)
training_id = st.selectbox(
    "Trained model",
    ids,
    index=ids.index(chosen) if chosen in ids else 0,
    format_func=lambda i: by_id[i].label,
)
st.session_state[SELECTED] = training_id
record = by_id[training_id]

report = record.report
params = report.params
st.markdown(
    f"**Data:** {report.data.source or '?'}  \n"
    f"**Network:** width {params.get('width')}, depth {params.get('depth')}, "
    f"dropout {params.get('dropout')} · {figures.epochs_trained(report.fit, params)}, "
    f"batch {params.get('batch_size')}, learning rate {params.get('learning_rate')}  \n"
    f"**Test accuracy:** {report.evaluation.accuracy:.3f}"
)

label = "Export again" if record.exported else "Export to ONNX"
if st.button(label, type="primary"):
    from jukebox.model.workflow import export_training

    with st.status("Exporting and verifying…", expanded=True) as status:
        try:
            st.write(
                "Converting with tf2onnx, then running onnxruntime and OpenVINO on the test split."
            )
            exported = export_training(record.path)
        except JukeboxError as error:  # shown as a sentence; the bundle stays as it was
            status.update(label="Export failed", state="error")
            st.error(f"The export failed: {error}")
        else:
            # Rerun so everything drawn above (the picker's "exported" mark) shows the new state.
            st.session_state[FLASH] = exported.verification_passed
            st.rerun()

if (passed := st.session_state.pop(FLASH, None)) is not None:
    if passed:
        st.success("Exported and verified.")
    else:
        st.error("Exported, but the export FAILED verification: it cannot be registered.")

if not record.exported:
    st.info("This model is not exported yet: press **Export to ONNX**.")
    st.stop()

# --- Verification -------------------------------------------------------------------------------
verification = report.verification
onnx_facts = report.onnx
if verification is None or onnx_facts is None:
    st.warning("This export has no verification record: press **Export again**.")
    st.stop()
st.subheader("Verification")
if verification.passed:
    st.success(
        f"Passed: both runtimes match Keras within {verification.tolerance:g} "
        f"on all {verification.rows:,} test rows. It can be registered."
    )
else:
    st.error(
        "Failed: this export does not match the Keras model, so it cannot be registered. "
        + " ".join(verification.problems)
    )
cols = st.columns(4)
for col, diff, name in (
    (cols[0], verification.onnxruntime_max_abs_diff, "onnxruntime"),
    (cols[1], verification.openvino_max_abs_diff, "OpenVINO"),
):
    col.metric(
        f"{name} max diff",
        "—" if diff is None else f"{diff:.2e}",
        help=f"largest |ONNX − Keras| over all test rows and countries, run with {name}",
    )
cols[2].metric("Rows compared", f"{verification.rows:,}")
cols[3].metric("Export + verification", f"{verification.seconds.get('total', 0):.1f} s")

# --- Graph --------------------------------------------------------------------------------------
st.subheader("Graph")
st.caption(
    f"opset {onnx_facts.opset} · {onnx_facts.producer} · "
    f"{onnx_facts.bytes / 1024:.0f} KiB · sha256 `{onnx_facts.sha256[:16]}…`"
)
left, right = st.columns(2)
left.markdown("**Inputs** (raw feature values)")
inputs = figures.graph_table(onnx_facts.inputs)
left.dataframe(inputs, hide_index=True, height=35 * (len(inputs) + 1) + 3)
right.markdown("**Outputs** (probability per country)")
right.dataframe(figures.graph_table(onnx_facts.outputs), hide_index=True)
right.caption("Columns in this order: " + ", ".join(report.evaluation.labels))

# --- Download -----------------------------------------------------------------------------------
st.subheader("Download")
left, right = st.columns(2)
left.download_button(
    "Download model.onnx",
    (record.path / ONNX_FILE).read_bytes(),
    file_name=f"jukebox-{record.id}.onnx",
    mime="application/octet-stream",
)
right.download_button(
    "Download the whole bundle (zip)",
    bundle_zip(record.path),
    file_name=f"jukebox-{record.id}.zip",
    mime="application/zip",
)
with st.expander("Model card"):
    st.markdown((record.path / CARD_FILE).read_text())
