"""Executes notebooks headless (nbclient); exits non-zero if any cell fails."""

import sys
import time

import nbclient
import nbformat


def run(path: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    print(f"{path}: {len(notebook.cells)} cells ran in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    for notebook_path in sys.argv[1:]:
        run(notebook_path)
