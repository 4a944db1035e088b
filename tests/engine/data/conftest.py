"""No test here may reach the network: the downloader's door and urllib's both refuse."""

import urllib.error
import urllib.request

import pytest

from cnnstudio.engine.data import sources


def _refuse(*args, **kwargs):
    raise urllib.error.URLError("tests never download")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(sources, "_urlopen", _refuse)
    monkeypatch.setattr(urllib.request, "urlopen", _refuse)


@pytest.fixture
def cifar_check_off(monkeypatch):
    """Accept generated CIFAR/SVHN files in place of the official ones (their md5 differs);
    a file must still exist."""
    import os

    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.svhn as svhn

    def exists(path, md5=None):
        return os.path.isfile(path)

    monkeypatch.setattr(cifar, "check_integrity", exists)
    monkeypatch.setattr(svhn, "check_integrity", exists)
