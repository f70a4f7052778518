package org.kvid.demo

import android.content.Context
import android.content.res.AssetManager
import android.net.Uri
import android.provider.OpenableColumns
import java.io.File
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.io.InputStream
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import org.kvid.core.AssetSource
import org.kvid.core.DirectoryAssets
import org.kvid.core.KvidException
import org.kvid.core.ModelAssets

/**
 * Where a model's files live - the APK's assets (`model.json` + `model.tflite`, written by
 * `kvid export --android-assets`), or a folder of files imported at run time (a sidecar `F.json`
 * and the model(s) it names) - and how a model file is handed to LiteRT: memory-mapped, not read
 * onto the heap and copied.
 */
sealed class ModelSource {
    /** How the user sees it, e.g. "bundled assets" or "imported sevnet.json". */
    abstract val label: String
    abstract val sidecarName: String
    abstract val files: AssetSource

    /** The model file as a read-only buffer for `Interpreter(ByteBuffer, Options)`. */
    abstract fun map(name: String): ByteBuffer

    fun load(): ModelAssets = ModelAssets.load(files, sidecarName)

    /** The APK's assets. `.tflite` files are stored uncompressed (app/build.gradle.kts `noCompress`), so they map. */
    class Bundled(private val manager: AssetManager) : ModelSource() {
        override val label = "bundled assets"
        override val sidecarName = ModelAssets.SIDECAR
        override val files: AssetSource = AndroidAssets(manager)

        override fun map(name: String): ByteBuffer {
            return try {
                manager.openFd(name).use { fd ->
                    FileInputStream(fd.fileDescriptor).channel.use { ch ->
                        ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                    }
                }
            } catch (e: FileNotFoundException) {
                // a compressed asset cannot be mapped: read it once into native memory instead
                files.open(name).use { readDirect(it, name) }
            }
        }
    }

    /** Files imported into the app's own storage (`files/models/NAME/`). */
    class Imported(val dir: File, override val sidecarName: String) : ModelSource() {
        override val label = "imported $sidecarName"
        override val files: AssetSource = DirectoryAssets(dir)

        override fun map(name: String): ByteBuffer {
            val f = File(dir, name)
            return try {
                RandomAccessFile(f, "r").use { raf -> raf.channel.use { it.map(FileChannel.MapMode.READ_ONLY, 0, it.size()) } }
            } catch (e: IOException) {
                throw KvidException("${f.path}: cannot map the model: ${e.message}", e)
            }
        }
    }

    companion object {
        private const val PREFS = "kvid.model"

        private fun readDirect(input: InputStream, name: String): ByteBuffer {
            val bytes = try {
                input.readBytes()
            } catch (e: IOException) {
                throw KvidException("assets/$name: cannot read: ${e.message}", e)
            }
            return ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
        }

        /** The model chosen last (an imported one if it is still there), else the bundled one. */
        fun current(context: Context): ModelSource {
            val prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE)
            val dir = prefs.getString("dir", null)
            val sidecar = prefs.getString("sidecar", null)
            if (dir != null && sidecar != null && File(dir, sidecar).isFile) {
                return Imported(File(dir), sidecar)
            }
            return Bundled(context.assets)
        }

        fun remember(context: Context, source: ModelSource) {
            val edit = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE).edit()
            if (source is Imported) {
                edit.putString("dir", source.dir.path).putString("sidecar", source.sidecarName)
            } else {
                edit.remove("dir").remove("sidecar")
            }
            edit.apply()
        }

        /**
         * Copies picked or shared files (a sidecar `F.json` and its `.tflite` file(s)) into
         * `files/models/F/` under their own names and checks them with core ([ModelAssets.load]):
         * a missing model file or a sidecar that does not parse is reported before anything runs.
         * Runs on the worker thread (it copies files).
         */
        fun import(context: Context, uris: List<Uri>): Imported {
            if (uris.isEmpty()) throw KvidException("no files picked: pick F.json together with F.tflite")
            val named = uris.map { displayName(context, it) to it }
            val sidecar = ModelAssets.chooseSidecar(named.map { it.first })
            val dir = File(File(context.filesDir, "models"), sidecar.removeSuffix(".json"))
            dir.deleteRecursively()
            if (!dir.mkdirs()) throw KvidException("${dir.path}: cannot create the model folder")
            for ((name, uri) in named) {
                val input = context.contentResolver.openInputStream(uri) ?: throw KvidException("$name: cannot open $uri")
                input.use { inp -> File(dir, name).outputStream().use { inp.copyTo(it) } }
            }
            val source = Imported(dir, sidecar)
            source.load() // validates the sidecar and that every model file it names came along
            return source
        }

        /** The file name of a content URI (OpenableColumns.DISPLAY_NAME), without any folder. */
        private fun displayName(context: Context, uri: Uri): String {
            var name: String? = null
            context.contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { c ->
                if (c.moveToFirst()) {
                    val i = c.getColumnIndex(OpenableColumns.DISPLAY_NAME)
                    if (i >= 0) name = c.getString(i)
                }
            }
            val n = (name ?: uri.lastPathSegment ?: "").substringAfterLast('/')
            if (n.isEmpty() || n == "." || n == "..") throw KvidException("$uri: the file has no usable name")
            return n
        }
    }
}

/** The APK's assets as core's [AssetSource]. */
class AndroidAssets(private val assets: AssetManager) : AssetSource {
    private val names: Set<String> = (assets.list("") ?: emptyArray()).toSet()
    override fun exists(name: String): Boolean = name in names
    override fun open(name: String): InputStream = assets.open(name)
    override fun describe(name: String): String = "assets/$name"
}
