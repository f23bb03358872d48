"""The uvicorn internals hitrec.hub.protocol builds on: there, as expected, in the installed uvicorn.

uvicorn's ``HttpToolsProtocol`` and ``RequestResponseCycle`` are private: a release may change them
without notice. This fails loudly when the installed one did, and the hub, rather than break, serves
with uvicorn's own protocol and says why.
"""

from __future__ import annotations

import logging
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from uvicorn.protocols.http import httptools_impl

from hitrec.hub import server
from hitrec.hub.protocol import HubHttpProtocol, uvicorn_mismatches


def test_the_installed_uvicorn_has_every_internal_the_protocol_uses() -> None:
    assert uvicorn_mismatches() == []


def test_the_installed_uvicorn_is_one_pyproject_accepts() -> None:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    (spec,) = [Requirement(d) for d in project["project"]["dependencies"] if re.match(r"uvicorn\b", d)]
    assert spec.specifier.contains(version("uvicorn")), (spec, version("uvicorn"))
    assert any(s.operator == "<" for s in spec.specifier)  # bounded above: an untested release is not taken


def test_a_changed_internal_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(httptools_impl.HttpToolsProtocol, "on_body")
    monkeypatch.setattr(httptools_impl.HttpToolsProtocol, "data_received", lambda self, chunk, more: None)
    monkeypatch.delattr(httptools_impl, "HIGH_WATER_LIMIT")
    problems = uvicorn_mismatches()
    assert "HttpToolsProtocol.on_body is gone" in problems
    assert "HttpToolsProtocol.data_received takes (chunk, more), not (data)" in problems
    assert "httptools_impl.HIGH_WATER_LIMIT is gone" in problems


def test_the_hub_falls_back_to_uvicorns_protocol_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    assert server.http_protocol() is HubHttpProtocol
    monkeypatch.delattr(httptools_impl.HttpToolsProtocol, "send_400_response")
    with caplog.at_level(logging.WARNING, logger="hitrec.hub"):
        assert server.http_protocol() == "httptools"
    (record,) = caplog.records
    assert "not one the hub was tested with" in record.message
    assert "HttpToolsProtocol.send_400_response is gone" in record.message
