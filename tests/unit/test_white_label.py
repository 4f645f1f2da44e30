"""White-label settings: partner defaults overridden field by field; each field checked."""
from types import SimpleNamespace

import pytest

from app.errors import ValidationError
from app.services.deployment.partner_tenants import clean_white_label, effective_branding

PARTNER = SimpleNamespace(company="Skyline Networks Ltd", brand_name="Skyline",
                          logo_url="https://skyline.example/logo.png", primary_color="#112233",
                          secondary_color=None, support_email="help@skyline.example",
                          custom_domain="cloud.skyline.example")


def test_config_overrides_defaults_and_empty_means_default():
    branding = effective_branding(PARTNER, {"brand_name": "", "primary_color": "#AABBCC",
                                            "support_email": " desk@client.example "})
    assert branding["brand_name"] == "Skyline"
    assert branding["primary_color"] == "#aabbcc"
    assert branding["support_email"] == "desk@client.example"
    assert branding["logo_url"] == "https://skyline.example/logo.png"


def test_brand_name_falls_back_to_the_company():
    partner = SimpleNamespace(**{**vars(PARTNER), "brand_name": None})
    assert effective_branding(partner, None)["brand_name"] == "Skyline Networks Ltd"


def test_inline_png_logo_is_accepted():
    assert clean_white_label({"logo_url": "data:image/png;base64,iVBORw0KGgo="})["logo_url"]


@pytest.mark.parametrize("config, field", [
    ({"primary_color": "blue"}, "primary_color"),
    ({"secondary_color": "#12345"}, "secondary_color"),
    ({"logo_url": "javascript:alert(1)"}, "logo_url"),
    ({"logo_url": "data:text/html;base64,PHNjcmlwdD4="}, "logo_url"),
    ({"support_email": "not an email"}, "support_email"),
    ({"custom_domain": "http://portal.example.com"}, "custom_domain"),
    ({"custom_domain": "localhost"}, "custom_domain"),
    ({"brand_name": "x" * 300}, "brand_name"),
    ({"brand_name": 42}, "brand_name"),
    ({"evil": "1"}, "brand_name"),
    ("not a dict", "brand_name"),
])
def test_each_bad_field_gets_its_message(config, field):
    with pytest.raises(ValidationError) as error:
        clean_white_label(config)
    assert field in error.value.details
