"""ImageNet-shaped images: generated ones with class structure, and a folder reader.

Nothing can be downloaded while the book builds, so the AlexNet chapter uses
**structured synthetic images** of ImageNet's shape (3×227×227, 1000 classes) made by
:func:`synthetic_images`. Each class ``c`` has its own fixed recipe — an oriented
sinusoidal grating with a class-specific spatial frequency and colour, plus a coloured
Gaussian blob at a class-specific place — and every image of that class draws a random
phase, blob jitter, contrast and pixel noise. The classes are therefore learnable (a
network must find orientation, frequency and colour), the images have the smooth,
spatially correlated statistics of natural images far more than white noise does, and the
pixels are standardized per channel as ImageNet inputs are. They are *not* ImageNet:
gradient norms computed on them differ from the slide's.

With real images at hand, :class:`ImageFolder` reads a directory laid out as
``root/<class name>/<image file>`` (the layout of ImageNet's training set and of
``torchvision.datasets.ImageFolder``) and prepares each image as AlexNet expects (shorter
side resized, centre crop, per-channel standardization with ImageNet's mean and std).
It needs only Pillow; :func:`write_image_folder` writes synthetic images in that layout.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from ..validation import check_int, check_number

__all__ = ["synthetic_images", "ImageFolder", "write_image_folder", "IMAGE_SIZE", "IMAGENET_MEAN",
           "IMAGENET_STD", "IMAGE_EXTENSIONS"]

#: Per-channel mean and std of ImageNet's training images (RGB, values in [0, 1]).
#: side of AlexNet's input images, the default size of the images made or read here
IMAGE_SIZE = 227
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: File name endings that :class:`ImageFolder` reads.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def _class_recipes(num_classes: int, class_seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(class_seed)
    return {
        "angle": torch.rand(num_classes, generator=g) * math.pi,
        "freq": 2.0 + torch.rand(num_classes, generator=g) * 14.0,     # cycles per image
        "color": torch.rand(num_classes, 3, generator=g),
        "blob_color": torch.rand(num_classes, 3, generator=g),
        "blob_center": 0.2 + 0.6 * torch.rand(num_classes, 2, generator=g),
    }


def synthetic_images(n: int, *, num_classes: int = 1000, image_size: int = IMAGE_SIZE, seed: int = 0,
                     class_seed: int = 0, noise: float = 0.3, labels=None, device="cpu"):
    """Generate ``n`` structured, ImageNet-shaped images with their labels.

    Parameters
    ----------
    n : int
        Number of images (``>= 1``).
    num_classes : int, default 1000
        Number of classes (``>= 2``).
    image_size : int, default 227
        Side length in pixels (``>= 8``).
    seed : int, default 0
        Seed (``>= 0``) of the labels and of each image's random phase, jitter, contrast
        and noise.
    class_seed : int, default 0
        Seed (``>= 0``) of the class recipes: images generated with the same
        ``class_seed`` share classes (use it for a train and a test set).
    noise : float, default 0.3
        Standard deviation of the pixel noise before standardization (``>= 0``).
    labels : sequence of int, optional
        Labels to draw (length ``n``, each in ``[0, num_classes)``); by default uniform.
    device : str or torch.device, default "cpu"
        Where to generate (a GPU generates large batches much faster). The class recipes
        are the same on every device; the per-image random draws come from that
        device's generator, so images differ between devices for the same ``seed``.

    Returns
    -------
    x : Tensor, shape (n, 3, image_size, image_size), float32
        Images, standardized per channel (mean 0, std 1 over the batch's pixels, as
        ImageNet inputs after their normalization).
    y : Tensor, shape (n,), int64
        Class labels.

    Examples
    --------
    >>> x, y = synthetic_images(4, num_classes=10, image_size=32, seed=0)
    >>> tuple(x.shape), y.dtype
    ((4, 3, 32, 32), torch.int64)
    """
    n = check_int("n", n, 1)
    num_classes = check_int("num_classes", num_classes, 2)
    image_size = check_int("image_size", image_size, 8)
    seed = check_int("seed", seed, 0)
    class_seed = check_int("class_seed", class_seed, 0)
    noise = check_number(noise, "noise", 0.0)
    device = torch.device(device)
    g = torch.Generator(device=device).manual_seed(seed)
    if labels is None:
        y = torch.randint(0, num_classes, (n,), generator=g, device=device)
    else:
        y = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
        if len(y) != n or bool(((y < 0) | (y >= num_classes)).any()):
            raise ValueError(f"labels must hold n={n} integers in [0, {num_classes})")
        y = y.to(device)
    r = {k: v.to(device) for k, v in _class_recipes(num_classes, class_seed).items()}
    coords = (torch.arange(image_size, dtype=torch.float32, device=device) + 0.5) / image_size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")              # (S, S)
    angle = r["angle"][y] + 0.15 * torch.randn(n, generator=g, device=device)
    phase = 2 * math.pi * torch.rand(n, generator=g, device=device)
    proj = xx * torch.cos(angle)[:, None, None] + yy * torch.sin(angle)[:, None, None]
    wave = torch.cos(2 * math.pi * r["freq"][y][:, None, None] * proj + phase[:, None, None])
    contrast = 0.6 + 0.8 * torch.rand(n, generator=g, device=device)
    img = 0.5 + 0.25 * (contrast[:, None, None, None] * wave[:, None]
                        * (r["color"][y] - 0.5)[:, :, None, None] * 2)
    center = r["blob_center"][y] + 0.08 * torch.randn(n, 2, generator=g, device=device)
    d2 = (xx - center[:, 0, None, None]) ** 2 + (yy - center[:, 1, None, None]) ** 2
    blob = torch.exp(-d2 / (2 * 0.12 ** 2))
    img = img + 0.5 * blob[:, None] * (r["blob_color"][y] - 0.5)[:, :, None, None]
    img = img + float(noise) * torch.randn(img.shape, generator=g, device=device)
    mean = img.mean(dim=(0, 2, 3), keepdim=True)
    std = img.std(dim=(0, 2, 3), keepdim=True) if n * image_size * image_size > 1 else 1.0
    return ((img - mean) / std).contiguous(), y


class ImageFolder:
    """Read images from ``root/<class>/<file>`` for AlexNet (needs only Pillow).

    Classes are the sub-directory names in sorted order (label ``i`` is ``classes[i]``);
    files are taken in sorted order, those whose names end with one of
    :data:`IMAGE_EXTENSIONS`. Each image is converted to RGB, its shorter side resized to
    ``image_size``, centre-cropped to ``image_size × image_size``, scaled to ``[0, 1]`` and
    standardized with ImageNet's per-channel mean and std.

    Parameters
    ----------
    root : str or Path
        The folder (must exist and hold at least one class folder with an image).
    image_size : int, default 227
        Side of the returned square images (``>= 8``).

    Attributes
    ----------
    classes : list of str
    samples : list of (Path, int)

    Examples
    --------
    >>> import tempfile
    >>> root = write_image_folder(tempfile.mkdtemp(), num_classes=2, per_class=1, image_size=16)
    >>> data = ImageFolder(root, image_size=16)
    >>> len(data), data.classes, tuple(data[0][0].shape)
    (2, ['class_000', 'class_001'], (3, 16, 16))
    """

    def __init__(self, root, image_size: int = IMAGE_SIZE):
        self.root = Path(root)
        self.image_size = check_int("image_size", image_size, 8)
        if not self.root.is_dir():
            raise ValueError(f"root must be an existing directory, got {str(root)!r}")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        self.samples = [
            (f, label)
            for label, name in enumerate(self.classes)
            for f in sorted((self.root / name).iterdir())
            if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
        ]
        if not self.samples:
            raise ValueError(f"root {str(root)!r} holds no images in class sub-directories "
                             f"(layout root/<class>/<image>, endings {IMAGE_EXTENSIONS})")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        from PIL import Image

        path, label = self.samples[index]
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = self.image_size / min(w, h)
            nw, nh = max(self.image_size, round(w * scale)), max(self.image_size, round(h * scale))
            im = im.resize((nw, nh), Image.BILINEAR)
            left, top = (nw - self.image_size) // 2, (nh - self.image_size) // 2
            im = im.crop((left, top, left + self.image_size, top + self.image_size))
            arr = np.asarray(im, dtype=np.float32) / 255.0
        x = torch.from_numpy(arr).permute(2, 0, 1)
        x = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
        return x.contiguous(), label

    def batch(self, indices):
        """Stack the images at ``indices`` into ``(x, y)`` tensors."""
        indices = indices.tolist() if isinstance(indices, torch.Tensor) else list(indices)
        if not indices:
            raise ValueError("indices must not be empty")
        indices = [check_int("indices entries", i, 0, len(self) - 1) for i in indices]
        items = [self[i] for i in indices]
        return (torch.stack([x for x, _ in items]),
                torch.tensor([label for _, label in items], dtype=torch.int64))

    def random_batch(self, batch_size: int, seed: int = 0):
        """A batch drawn without replacement (with replacement past ``len(self)``), seeded."""
        batch_size = check_int("batch_size", batch_size, 1)
        seed = check_int("seed", seed, 0)
        g = torch.Generator().manual_seed(seed)
        if batch_size <= len(self):
            idx = torch.randperm(len(self), generator=g)[:batch_size]
        else:
            idx = torch.randint(0, len(self), (batch_size,), generator=g)
        return self.batch(idx.tolist())


def write_image_folder(root, *, num_classes: int = 3, per_class: int = 2, image_size: int = 64,
                       seed: int = 0) -> Path:
    """Write synthetic images as PNG files in the ``root/<class>/<file>`` layout.

    Parameters
    ----------
    root : str or Path
        Folder to write into (created if missing).
    num_classes, per_class : int
        Classes (``>= 2``) and images per class (``>= 1``).
    image_size : int, default 64
        Side of the images in pixels (``>= 8``).
    seed : int, default 0
        Seed of :func:`synthetic_images`.

    Returns
    -------
    Path
        ``root``.
    """
    from PIL import Image

    num_classes = check_int("num_classes", num_classes, 2)
    per_class = check_int("per_class", per_class, 1)
    labels = [c for c in range(num_classes) for _ in range(per_class)]
    x, y = synthetic_images(len(labels), num_classes=num_classes, image_size=image_size,
                            seed=seed, labels=labels)
    root = Path(root)
    # map the standardized values back to bytes for storage
    x8 = (x * 0.25 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)
    for i, (img, label) in enumerate(zip(x8.numpy(), y.tolist())):
        folder = root / f"class_{label:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"img_{i:04d}.png")
    return root
