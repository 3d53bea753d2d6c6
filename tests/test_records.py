"""mmsr.records: the JSON-lines result files every experiment script appends to."""
from mmsr.records import append_record, has_record, latest, read_latest, read_records


def _rec(method, image, psnr, set_="test"):
    return {"method": method, "set": set_, "image": image, "psnr": psnr}


def test_a_missing_file_reads_as_no_records_and_appended_lines_come_back_in_order(tmp_path):
    path = tmp_path / "deeper" / "scores.jsonl"
    assert read_records(path) == []
    for r in (_rec("djf", "a", 30.0), _rec("djf", "b", 31.5)):
        append_record(path, r)
    assert read_records(path) == [_rec("djf", "a", 30.0), _rec("djf", "b", 31.5)]
    path.write_text(path.read_text() + "\n\n")   # blank lines (an editor's trailing newline) are not records
    assert len(read_records(path)) == 2


def test_latest_keeps_the_last_record_of_each_method_set_and_image_in_first_seen_order(tmp_path):
    recs = [_rec("djf", "a", 30.0), _rec("lmcsc", "a", 31.0), _rec("djf", "b", 32.0),
            _rec("djf", "a", 30.5),                       # djf re-scored on a with new weights
            _rec("djf", "a", 29.0, set_="country")]       # another set: its own key
    got = latest(recs)
    assert [(r["method"], r["set"], r["image"]) for r in got] == [
        ("djf", "test", "a"), ("lmcsc", "test", "a"), ("djf", "test", "b"), ("djf", "country", "a")]
    assert got[0]["psnr"] == 30.5 and got[3]["psnr"] == 29.0
    path = tmp_path / "s.jsonl"
    for r in recs:
        append_record(path, r)
    assert read_latest(path) == got


def test_has_record_needs_every_field_of_the_key():
    recs = [_rec("djf", "a", 30.0), {"method": "cmsr", "seed": 1, "image": 2}]
    assert has_record(recs, method="cmsr", seed=1, image=2)
    assert not has_record(recs, method="cmsr", seed=2, image=2)
    assert has_record(recs, method="djf") and not has_record(recs, method="zssr")
    assert not has_record([], method="djf")
