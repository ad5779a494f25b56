from libs.runtime.serve import serve

from .main import create_app
from .settings import SupportSettings

settings = SupportSettings.load()
serve(create_app(settings), settings)
