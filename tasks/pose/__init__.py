"""Human pose estimation tasks: ``mpii`` (2-stack hourglass, paper §4.3) and ``stickmen``."""
