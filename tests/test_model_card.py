"""Model cards: a weights file and its JSON card round-trip, and bad ones are one clear error."""

import json

from lce_models.models import NetworkConfig, build_model, exact, model_card
from lce_models.models.bconv import BinaryConv2D
from lce_models.models.model_card import ModelCardError, load, save, ship, shipped

import numpy as np
import pytest
from conftest import randomize_weights


def saved(tmp_path):
    model = randomize_weights(build_model(NetworkConfig("bbcu-m", 3, depth=1, padding="one")), 2)
    return model, save(model, tmp_path / "m.json", steps=10)


def assert_same_but_snapped(model, loaded):
    """Every weight is the saved one but the shifts LCE folds into binary convs, which loading
    moves onto alpha's grid, by at most half its last bit."""
    assert exact.check(model) and not exact.check(loaded)
    convs = [layer for layer in loaded.layers if isinstance(layer, BinaryConv2D)]
    for conv in convs:
        _, after = exact.folded_shift(conv)
        _, before = exact.folded_shift(model.get_layer(conv.name))
        assert np.all(np.abs(after - before) <= exact.grid(conv)[1] / 2)
    changed = sum(not np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))
    assert 0 < changed <= len(convs)  # these models' convs have no bias: one shift each at most


def test_round_trip(tmp_path):
    model, card = saved(tmp_path)
    loaded = load(card, (8, 8), batch_size=1)
    assert loaded.config == model.config and loaded.input_shape == (1, 8, 8, 3)
    assert loaded.card["steps"] == 10
    assert_same_but_snapped(model, loaded)


@pytest.mark.parametrize("card", model_card.shipped_cards(), ids=lambda card: card.stem)
def test_shipped_cards_load_with_exact_output_transforms(card):
    assert exact.check(load(card, (8, 8), batch_size=1)) == []


def test_missing_card(tmp_path):
    with pytest.raises(ModelCardError, match="model card not found"):
        load(tmp_path / "nope.json")


def test_not_a_card(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ModelCardError, match="is not a model card"):
        load(tmp_path / "x.json")


@pytest.mark.parametrize("network,message", [
    (["bbcu-m"], "is not a model card"),
    ("bbcu-m", "is not a model card"),
    ({"name": "bbcu-m", "n_feats": "wide"}, "describes no network of this version"),
])
def test_a_card_with_wrong_types(tmp_path, network, message):
    _, card = saved(tmp_path)
    text = json.loads(card.read_text())
    card.write_text(json.dumps({**text, "network": network}))
    with pytest.raises(ModelCardError, match=message):
        load(card)


def test_missing_weights(tmp_path):
    _, card = saved(tmp_path)
    (tmp_path / "m_weights.h5").unlink()
    with pytest.raises(ModelCardError, match="weights file named by .* not found"):
        load(card)


def test_corrupt_weights(tmp_path):
    _, card = saved(tmp_path)
    (tmp_path / "m_weights.h5").write_bytes(b"\x89HDF garbage")
    with pytest.raises(ModelCardError, match="cannot load"):
        load(card)


def test_weights_of_another_network(tmp_path):
    _, card = saved(tmp_path)
    data = json.loads(card.read_text())
    data["network"]["name"] = "bbcu-dn"
    data["network"]["scale"] = 1
    card.write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match="describes no network.*no global_residual"):
        load(card)  # a DnCNN has no global residual
    data["network"]["global_residual"] = None
    card.write_text(json.dumps(data))
    with pytest.raises(ModelCardError, match="cannot load"):
        load(card)


def test_ship_names_the_copy_and_shipped_finds_only_its_configuration(tmp_path, monkeypatch):
    model, card = saved(tmp_path)
    shipped_card = ship(card, hours=1.234, dest=tmp_path / "weights")
    assert shipped_card.name == "bbcu-m_x3.json"
    loaded = load(shipped_card)
    assert loaded.card["training"]["hours"] == 1.234 and loaded.card["weights"] == "bbcu-m_x3_weights.h5"
    assert_same_but_snapped(model, loaded)
    monkeypatch.setattr(model_card, "WEIGHTS_DIR", tmp_path / "weights")
    assert shipped(model.config) == shipped_card
    # Weights of depth 1 and one padding fit neither the default network nor zero padding.
    assert shipped(NetworkConfig("bbcu-m", 3).resolved()) is None
    assert shipped(NetworkConfig("bbcu-m", 3, depth=1).resolved()) is None
    assert shipped(NetworkConfig("bbcu-m", 4, depth=1, padding="one").resolved()) is None
