"""Storyboard: Sora-2 storyboard videos from Discord."""
