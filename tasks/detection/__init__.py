"""Object detection tasks: ``voc`` (SSD300 on PASCAL VOC07+12, paper §4.2) and ``shapes``."""
