"""HTTP views. Domain errors become HTTP answers here and nowhere else."""
