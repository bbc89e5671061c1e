"""Stage presets (YAML) that pipelines compose: ``configs/stages/<kind>/<preset>.yaml``."""
