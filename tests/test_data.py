import numpy as np
import pytest
import torch
from PIL import Image

from gan.core.errors import DataError
from gan.data.files import ImageFolder, torchvision_dataset
from gan.data.imageset import FolderImages, Treated, head, pieces
from gan.data.loading import TensorImages, batches, epoch_permutation
from gan.data.procedural import dead_leaves_images, deadleaves
from gan.measure import spectral
from tests.conftest import write_mnist


def test_deadleaves_deterministic_in_seed_and_in_range():
    a = dead_leaves_images(8, 16, seed=3)
    b = dead_leaves_images(8, 16, seed=3)
    c = dead_leaves_images(8, 16, seed=4)
    assert a.shape == (8, 3, 16, 16)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.min() >= -1 and a.max() <= 1
    assert dead_leaves_images(2, 8, channels=1).shape == (2, 1, 8, 8)


def test_deadleaves_spectrum_falls_like_natural_images():
    x = dead_leaves_images(256, 64, seed=0).double()
    freqs, prof = spectral.radial_profile(spectral.power_spectrum(x))
    band = (freqs > 0.03) & (freqs < 0.3)
    slope = np.polyfit(np.log(freqs[band].numpy()), np.log(prof.mean(0)[band].numpy()), 1)[0]
    assert -3.2 < slope < -1.6  # natural images: about -2


def test_batches_depend_only_on_seed_and_step():
    ds = TensorImages(torch.arange(20.0).view(20, 1, 1, 1))
    stream = batches(ds, 4, seed=1)
    first = [next(stream).flatten().tolist() for _ in range(12)]  # 3 epochs of 5 batches... (drop-last)
    resumed = batches(ds, 4, seed=1, start_step=7)
    assert [next(resumed).flatten().tolist() for _ in range(5)] == first[7:]
    assert sorted(sum(first[:5], [])) == list(range(20))  # one epoch visits every image once
    assert first[:5] != first[5:10]  # epochs are reshuffled
    assert torch.equal(epoch_permutation(20, 1, 0), epoch_permutation(20, 1, 0))


def test_batches_reject_a_dataset_smaller_than_a_batch():
    with pytest.raises(DataError, match="batch_size"):
        next(batches(TensorImages(torch.zeros(3, 1, 2, 2)), 4))


def _write_images(root, n, size=(20, 12), mode="RGB"):
    rng = np.random.default_rng(0)
    (root / "a" / "b").mkdir(parents=True)
    for i in range(n):
        arr = rng.integers(0, 40, (size[1], size[0], 3), dtype=np.uint8)
        arr[:, size[0] // 2:] += 215  # dark left half, bright right half
        Image.fromarray(arr).convert(mode).save(root / ("a/b" if i % 2 else "a") / f"img{i}.png")


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_dataset_recursive_resized_and_scaled(tmp_path, channels):
    _write_images(tmp_path, 5)
    (tmp_path / "notes.txt").write_text("not an image")
    ds = ImageFolder(str(tmp_path), image_size=8, channels=channels)
    assert len(ds) == 5
    x = torch.stack([ds[i] for i in range(5)])
    assert x.shape == (5, channels, 8, 8)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.5 and x.max() > 0.5


def test_folder_dataset_skips_corrupt_files_and_rejects_empty(tmp_path):
    _write_images(tmp_path, 3)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    assert len(ImageFolder(str(tmp_path), 8)) == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no readable images"):
        ImageFolder(str(empty), 8)
    with pytest.raises(DataError, match="not a folder"):
        ImageFolder(str(tmp_path / "missing"), 8)


def test_mnist_from_tiny_idx_files(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 28), (28, 1))
    images = np.stack([ramp if i % 2 else ramp.T for i in range(6)]) * (np.arange(6)[:, None, None] + 1) / 6
    write_mnist(tmp_path, images)
    ds = torchvision_dataset("mnist", 32, root=str(tmp_path), channels=1)
    assert len(ds) == 6
    x = ds[2]
    assert x.shape == (1, 32, 32)
    expected = torch.from_numpy(images[2]).float() / 255 * 2 - 1
    small = torch.nn.functional.interpolate(x[None], size=28, mode="area")[0, 0]
    assert (small - expected).abs().mean() < 0.05  # the same picture, resized 28 -> 32
    assert (small - torch.from_numpy(images[3]).float() / 255 * 2 + 1).abs().mean() > 0.3


def test_missing_torchvision_data_says_where_and_how(tmp_path):
    with pytest.raises(DataError, match=r"data\.download=true") as e:
        torchvision_dataset("mnist", 32, root=str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in str(e.value)


def test_deadleaves_factory_rejects_empty():
    with pytest.raises(DataError, match="num_images"):
        deadleaves(16, num_images=0)


def test_folder_images_read_only_what_is_indexed_and_check_sizes_from_the_headers(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    folder = ImageFolder(tmp_path, image_size=None, strict=True)
    whole = torch.stack([folder[i] for i in range(5)])
    images = FolderImages.of(folder)
    assert images.shape == (5, 3, 12, 16) and len(head(images, 2)) == 2
    read = []
    decode = FolderImages.read
    monkeypatch.setattr(FolderImages, "read", lambda self, i: read.append(i) or decode(self, i))
    assert torch.equal(images[1:4], whole[1:4]) and read == [1, 2, 3]
    assert torch.equal(images[torch.tensor([4, 0])], whole[[4, 0]]) and torch.equal(images[-1], whole[-1])
    assert torch.equal(torch.cat(list(pieces(images, 2, start=1))), whole[1:])
    assert torch.equal(Treated(images, torch.neg)[0:5], -whole)
    Image.fromarray(np.zeros((16, 12, 3), np.uint8)).save(tmp_path / "9.png")  # 12 wide, 16 high
    with pytest.raises(DataError, match=r"mixed image sizes: .*0.png is 16x12, .*9.png is 12x16"):
        FolderImages.of(ImageFolder(tmp_path, image_size=None, strict=True))  # from the headers
    images = FolderImages.of(ImageFolder(tmp_path, image_size=None, strict=True), limit=5)
    (tmp_path / "1.png").write_bytes(b"")  # gone bad after the folder was listed
    with pytest.raises(DataError, match="1.png: unreadable image"):
        images[0:3]
