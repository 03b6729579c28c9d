"""What turns API Gateway events into domain calls; the functions/ handlers are built from this."""
