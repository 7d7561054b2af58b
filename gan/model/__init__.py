"""What generates: upsamplers, blur filters, the DCGAN networks, losses, replicated training of seeds,
convolution arithmetic, and building them from config.
"""
