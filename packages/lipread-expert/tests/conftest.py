"""Test settings for lipread-expert.

The unit tests use tiny models, for which one intra-op thread is fastest; on a shared machine
extra OpenMP threads mostly spin. The setting is restored after each test, so tests of
other packages run in the same session are not affected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
