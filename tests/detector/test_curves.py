from detector.curves import plot_curves


def test_writes_a_png_and_no_temp_files(tmp_path):
    history = [
        {"epoch": 1, "train_loss": 0.7, "val_loss": 0.69, "val_frame_auc": 0.6, "val_video_auc": 0.7},
        {"epoch": 2, "train_loss": 0.5, "val_loss": 0.55, "val_frame_auc": 0.8, "val_video_auc": 0.9},
    ]
    plot_curves(history, tmp_path / "curves.png", title="t")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
