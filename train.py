"""Train a DCGAN with a chosen upsampler: ``python train.py upsampler=resize_nearest``."""
import hydra
from omegaconf import DictConfig

from gan.training import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train(cfg).get("checkerboard_excess_db/p2")


if __name__ == "__main__":
    main()
