; Inno Setup script: the Windows installer of Desktop Care, from PyInstaller's one-folder
; build (dist\desktop-care\, made by installer\windows\build.ps1, which runs this too):
;
;   iscc /DAppVersion=0.1.0 /DSourceDir=..\..\dist\desktop-care installer\windows\desktop-care.iss
;
; Installs per machine into Program Files (or per user when not an administrator), adds a
; Start menu entry (and a desktop icon if asked), and uninstalls cleanly. The user's data
; (%LOCALAPPDATA%\desktop_care) is left alone on uninstall. Signing: pass
; /DSignTool=... to sign the setup and the uninstaller (the SignTool named in Inno Setup's
; settings); unsigned otherwise.

#ifndef AppVersion
  #error Pass /DAppVersion=<desktop_care.__version__>
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\desktop-care"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\..\dist\desktop-care.ico"
#endif

[Setup]
; Never change AppId: it is how an upgrade finds the installed copy.
AppId={{6B1D2F0C-93E4-4C1B-9A57-2E4C8D1F5A30}
AppName=Desktop Care
AppVersion={#AppVersion}
AppVerName=Desktop Care {#AppVersion}
AppPublisher=desktop_care developers
DefaultDirName={autopf}\Desktop Care
DefaultGroupName=Desktop Care
DisableProgramGroupPage=yes
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=desktop-care-{#AppVersion}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\desktop-care.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; The same bytes from the same inputs (the build sets SOURCE_DATE_EPOCH's time on the files).
TimeStampsInUTC=yes
#ifdef SignTool
SignTool={#SignTool}
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Desktop Care"; Filename: "{app}\desktop-care.exe"; Comment: "Customer care console"
Name: "{autodesktop}\Desktop Care"; Filename: "{app}\desktop-care.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\desktop-care.exe"; Description: "{cm:LaunchProgram,Desktop Care}"; Flags: nowait postinstall skipifsilent
