"""Media: probing files in-process and finding the ffmpeg binary."""
