# Builds the Windows installer: dist\desktop-care-<version>-setup.exe.
#
#   powershell -ExecutionPolicy Bypass -File installer\windows\build.ps1
#
# Needs Python 3.11 (py launcher or python on PATH) and Inno Setup 6 (iscc.exe; on
# PATH or in its default folder). Makes a build environment in .venv-build\ from
# constraints.txt (the runtime and the PyInstaller pins), freezes the app with
# installer\desktop_care.spec into dist\desktop-care\, checks that it starts
# (--version), then compiles installer\windows\desktop-care.iss.
# Built by CI (.github/workflows/installers.yml, windows-latest); not tested on the
# project's own machine, which is Linux.
$ErrorActionPreference = "Stop"
$Repo = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Repo

if (-not $env:SOURCE_DATE_EPOCH) {
    $env:SOURCE_DATE_EPOCH = (git log -1 --format=%ct).Trim()
}
$env:PYTHONHASHSEED = "0"

$Venv = Join-Path $Repo ".venv-build"
if (-not (Test-Path "$Venv\Scripts\python.exe")) {
    py -3.11 -m venv $Venv
    if ($LASTEXITCODE -ne 0) { python -m venv $Venv }
}
$Python = "$Venv\Scripts\python.exe"
& $Python -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools
& $Python -m pip install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt ".[build]"
if ($LASTEXITCODE -ne 0) { throw "pip install failed" }

$Version = (& $Python installer\package.py version).Trim()
$Tag = git describe --exact-match --tags --match "v*" HEAD 2>$null
if ($LASTEXITCODE -eq 0 -and $Tag -ne "v$Version") { throw "HEAD is tagged $Tag but __version__ is $Version" }

& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller `
    installer\desktop_care.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

# A windowed executable has no console to print to: its exit code says it started.
$Run = Start-Process -FilePath dist\desktop-care\desktop-care.exe -ArgumentList "--version" -Wait -PassThru
if ($Run.ExitCode -ne 0) { throw "the built app failed to start (exit code $($Run.ExitCode))" }

# The setup's own icon (the app's exe has it already, converted by PyInstaller).
& $Python -c "from PIL import Image; Image.open('resources/icon-256.png').save('dist/desktop-care.ico', sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (256, 256)])"

$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
& $Iscc /Qp "/DAppVersion=$Version" installer\windows\desktop-care.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Get-ChildItem dist\desktop-care-*-setup.exe | ForEach-Object { "$($_.FullName) $((Get-FileHash $_).Hash)" }
