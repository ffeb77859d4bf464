"""`ewg gazetteer import` with the real reference tables (skipped without ../shared)."""

from __future__ import annotations

import json

from tests.support.cli import ewg
from tests.support.paths import SHARED_DATA, needs_shared


@needs_shared
def test_import_niger_and_mali_then_parse_a_village(db_url, tmp_path) -> None:
    assert ewg("db", "upgrade", db_url=db_url, env={"EWG_GATEWAY__DEMO_DATA": "false"}).returncode == 0
    units = [SHARED_DATA / name for name in ("ner_pcodes_adm1_adm2_hdx_fixture.csv", "ner_adm3_gazetteer.csv",
                                             "mli_pcodes_adm1_adm2_hdx_fixture.csv", "mli_adm3_gazetteer.csv")]
    first = ewg("gazetteer", "import", *map(str, units), db_url=db_url)
    assert first.returncode == 0, first.stderr
    # The locality register alone: it finds its communes among those already stored.
    second = ewg("gazetteer", "import", str(SHARED_DATA / "ner_renaloc_localities.csv"), db_url=db_url)
    assert second.returncode == 0, second.stderr
    assert "34053 localities" in second.stdout
    # Re-importing updates in place.
    again = ewg("gazetteer", "import", *map(str, units), db_url=db_url)
    assert again.stdout.split()[1] == first.stdout.split()[1]

    parsed = ewg("parse", "--json", "3 Takoude 40", db_url=db_url)
    data = json.loads(parsed.stdout)
    assert (data["incident"], data["commune"], data["count"]) == ("cattle_theft", "NE004006003", 40)
    kongo = json.loads(ewg("parse", "--json", "attaque kongo kire", db_url=db_url).stdout)
    assert kongo["commune"] == "NE006002001"  # a locality of Ayerou
    timbuktu = json.loads(ewg("parse", "--json", "hommes armes timbuktu 20", db_url=db_url).stdout)
    assert timbuktu["commune"].startswith("ML") and timbuktu["count"] == 20


def test_import_refuses_a_bad_file_with_file_and_line(db_url, tmp_path) -> None:
    bad = tmp_path / "communes.csv"
    bad.write_text("adm1_pcode,adm1_fr,adm2_pcode,adm2_fr,adm3_pcode,adm3_fr,adm3_ascii,adm3_ref,area_sqkm,"
                   "renaloc_code,renaloc_name,n_localities,pop_rgph2012,lat_popweighted,lon_popweighted,"
                   "largest_locality,largest_loc_lat,largest_loc_lon,neighbours_approx\n"
                   "NE004,Maradi,NE004006,Madarounfa,NE004006003,Gabi,Gabi,,1,4-06-03,GABI,1,1,north,7.1,,,,\n")
    assert ewg("db", "upgrade", db_url=db_url).returncode == 0
    result = ewg("gazetteer", "import", str(bad), db_url=db_url)
    assert result.returncode == 1
    assert f"{bad}:2:" in result.stderr and "Traceback" not in result.stderr
