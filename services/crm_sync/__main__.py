from libs.runtime.serve import serve

from .main import create_app
from .settings import CrmSettings

settings = CrmSettings.load()
serve(create_app(settings), settings)
