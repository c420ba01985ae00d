"""Placeholder for pages whose capability is not built yet."""

import streamlit as st


def coming_soon(title: str, capability: str) -> None:
    """Say plainly what this page will do, and nothing else."""
    st.title(title)
    st.info(f"Coming soon: {capability}")
