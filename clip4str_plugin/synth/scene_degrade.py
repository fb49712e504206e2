"""Camera degradations of a scene-text crop: uneven light, low resolution, gaussian and motion
blur, sensor noise, JPEG compression. Images are RGB (h, w, 3): float32 in [0, 255] unless said.
"""
import cv2
import numpy as np


def uneven_light(image: np.ndarray, rng, strength: float) -> np.ndarray:
    """``image`` times a smooth gain: a ramp in a random direction and a bright or dark spot,
    the gain ranging over about 1 +- ``strength``."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ys, xs = ys / max(h, w), xs / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xs * np.cos(angle) + ys * np.sin(angle)
    ramp = (ramp - ramp.mean()) / max(float(np.ptp(ramp)), 1e-6)
    cy, cx = rng.uniform(0, h / max(h, w)), rng.uniform(0, w / max(h, w))
    spot = np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * rng.uniform(0.1, 0.5) ** 2))
    gain = 1 + strength * (ramp + rng.uniform(-1, 1) * spot)
    return np.clip(image * gain[..., None], 0, 255)


def low_resolution(image: np.ndarray, factor: float, rng) -> np.ndarray:
    """``image`` shrunk by ``factor`` (> 1) and enlarged back to its size (nearest, linear or
    cubic, at random): lost detail, as in small far-away words."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(round(w / factor), 1), max(round(h / factor), 1)),
                       interpolation=cv2.INTER_AREA)
    method = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
    return np.clip(cv2.resize(small, (w, h), interpolation=method), 0, 255)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Defocus: a gaussian of ``sigma`` px."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def motion_blur(image: np.ndarray, length: int, angle: float) -> np.ndarray:
    """Camera shake: the mean along a line of ``length`` px at ``angle`` degrees."""
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle)) * c, np.sin(np.deg2rad(angle)) * c
    cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def sensor_noise(image: np.ndarray, rng, sigma: float) -> np.ndarray:
    """Gaussian noise of ``sigma`` levels, per channel or (half the time) the same in all."""
    h, w = image.shape[:2]
    noise = rng.normal(0, sigma, (h, w, 3 if rng.random() < 0.5 else 1)).astype(np.float32)
    return np.clip(image + noise, 0, 255)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` through JPEG at ``quality`` (1-100) and back: blocks and ringing."""
    bgr = np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8)[..., ::-1])
    _, data = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)
